"""The ground floor: settings every layer may read (only entry points do)."""
