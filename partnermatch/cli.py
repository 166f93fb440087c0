"""The `partnermatch` command line: one command per pipeline step."""

from __future__ import annotations

import typer

from features.index import set_search_threads
from partnermatch.commands.challenger import app as challenger_app
from partnermatch.commands.demo import demo_data
from partnermatch.commands.evaluate import evaluate
from partnermatch.commands.generate import generate
from partnermatch.commands.ingest import ingest
from partnermatch.commands.keys import app as keys_app
from partnermatch.commands.mlflow_server import mlflow_server
from partnermatch.commands.promote import promote, rollback
from partnermatch.commands.recommend import recommend
from partnermatch.commands.retrain import retrain
from partnermatch.commands.serve import serve
from partnermatch.commands.train import train
from partnermatch.logging_setup import configure_logging

app = typer.Typer(
    name="partnermatch",
    help="Partner-team recommendations for B2B co-selling.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(log_level: str = typer.Option("WARNING", help="Log level for library messages.")) -> None:
    """partnermatch: ingest PRM exports, train, recommend partner teams, serve the API."""
    configure_logging(log_level)
    # One BLAS/FAISS thread per process: two threads ran up to 30x slower on 2 cores here.
    set_search_threads(1)


app.command("generate")(generate)
app.command("ingest")(ingest)
app.command("demo-data")(demo_data)
app.command("train")(train)
app.command("recommend")(recommend)
app.command("evaluate")(evaluate)
app.command("promote")(promote)
app.command("rollback")(rollback)
app.command("retrain")(retrain)
app.command("serve")(serve)
app.command("mlflow-server")(mlflow_server)
app.add_typer(keys_app, name="keys")
app.add_typer(challenger_app, name="challenger")


if __name__ == "__main__":
    app()
