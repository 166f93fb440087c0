"""Words of the synthetic ecosystem: skills with partner- and buyer-side paraphrases, industries, regions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skill:
    """One latent skill and the different ways partners and buyers talk about it.

    Partners tag and describe themselves with `partner_tags`; opportunities use `opp_tags` and
    `opp_phrases`, deliberately worded differently so exact tag matching is not enough.
    """

    key: str
    partner_tags: tuple[str, ...]
    opp_tags: tuple[str, ...]
    opp_phrases: tuple[str, ...]
    certification: str


def _s(key: str, partner: str, opp: str, phrases: str, cert: str) -> Skill:
    return Skill(key, tuple(partner.split("|")), tuple(opp.split("|")), tuple(phrases.split("|")), cert)


SKILLS: tuple[Skill, ...] = (
    _s(
        "aws-migration",
        "aws cloud migration|amazon web services migration|aws landing zone",
        "datacentre exit to aws|aws rehost",
        "a datacentre exit to AWS|moving on-prem servers to Amazon Web Services|"
        "lift-and-shift of legacy workloads into AWS",
        "AWS Migration Competency",
    ),
    _s(
        "azure-migration",
        "azure cloud migration|microsoft azure landing zone|azure adoption",
        "move to azure|azure rehost",
        "moving the estate to Microsoft Azure|an Azure adoption programme|"
        "retiring VMware hosts in favour of Azure",
        "Azure Migration Specialist",
    ),
    _s(
        "gcp-migration",
        "google cloud migration|gcp adoption|google cloud landing zone",
        "move to google cloud|gcp rehost",
        "a move to Google Cloud|replatforming apps onto GCP|"
        "consolidating data centres into Google Cloud",
        "Google Cloud Migration Specialization",
    ),
    _s(
        "kubernetes",
        "kubernetes platform|container orchestration|openshift",
        "containerise applications|k8s cluster build",
        "containerising the application portfolio|a managed k8s cluster for product teams|"
        "running microservices on containers",
        "Certified Kubernetes Administrator",
    ),
    _s(
        "devops",
        "devops ci/cd|continuous delivery pipelines|devsecops",
        "build pipeline automation|release automation",
        "faster, automated release pipelines|automating build and deployment|"
        "shortening the release cycle",
        "DevOps Engineer Professional",
    ),
    _s(
        "iac",
        "infrastructure as code|terraform automation|cloud automation",
        "terraform|automated provisioning",
        "codifying infrastructure with Terraform|automated environment provisioning|"
        "repeatable infrastructure templates",
        "HashiCorp Terraform Associate",
    ),
    _s(
        "sap-s4hana",
        "sap s/4hana|sap migration|rise with sap",
        "s4 conversion|sap ecc upgrade",
        "converting SAP ECC to S/4HANA|an S4 greenfield implementation|"
        "the SAP ERP upgrade before end of support",
        "SAP S/4HANA Partner Certification",
    ),
    _s(
        "salesforce",
        "salesforce crm|salesforce sales cloud|salesforce implementation",
        "crm rollout|sales cloud",
        "a new CRM for the sales force|rolling out Sales Cloud to account teams|"
        "replacing the legacy CRM",
        "Salesforce Consulting Partner",
    ),
    _s(
        "servicenow",
        "servicenow itsm|it service management|servicenow platform",
        "itsm tooling|service desk platform",
        "modernising the IT service desk|a new ticketing and ITSM platform|"
        "automating IT service workflows",
        "ServiceNow Specialist",
    ),
    _s(
        "oracle-erp",
        "oracle erp cloud|oracle fusion|oracle e-business suite",
        "oracle financials|fusion erp",
        "moving Oracle Financials to the cloud|an Oracle Fusion rollout|upgrading E-Business Suite",
        "Oracle ERP Cloud Specialist",
    ),
    _s(
        "dynamics",
        "microsoft dynamics 365|dynamics crm|power platform",
        "d365|power apps",
        "a Dynamics 365 rollout|low-code apps on Power Platform|unifying CRM and ERP on Microsoft",
        "Dynamics 365 Solutions Partner",
    ),
    _s(
        "zero-trust",
        "zero trust security|zero trust network access|sase",
        "ztna|replace vpn",
        "replacing the VPN with zero-trust access|least-privilege access for remote staff|"
        "a zero-trust architecture",
        "Zero Trust Architect",
    ),
    _s(
        "iam",
        "identity and access management|single sign-on|privileged access management",
        "sso and mfa|identity governance",
        "rolling out SSO and MFA|cleaning up user identities and roles|privileged account controls",
        "Identity Management Specialist",
    ),
    _s(
        "siem",
        "security operations center|siem|managed detection and response",
        "soc services|threat detection",
        "a 24x7 SOC|detecting and responding to threats|centralising security logs",
        "Security Operations Specialist",
    ),
    _s(
        "cspm",
        "cloud security posture management|cloud security|cnapp",
        "cloud misconfiguration|cloud compliance posture",
        "finding misconfigurations across cloud accounts|securing public cloud workloads|"
        "cloud security posture reviews",
        "Cloud Security Specialist",
    ),
    _s(
        "endpoint",
        "endpoint protection|edr|endpoint management",
        "antivirus replacement|laptop security",
        "replacing legacy antivirus|protecting laptops and servers|an EDR rollout",
        "Endpoint Security Specialist",
    ),
    _s(
        "lakehouse",
        "data lakehouse|databricks|delta lake",
        "unified analytics platform|lakehouse",
        "one platform for BI and data science|consolidating data lakes and warehouses|"
        "a lakehouse for analytics",
        "Databricks Certified Partner",
    ),
    _s(
        "dwh",
        "data warehouse modernization|snowflake|cloud data warehouse",
        "teradata exit|warehouse migration",
        "retiring the Teradata warehouse|moving reporting data to Snowflake|a cloud data warehouse",
        "Snowflake Services Partner",
    ),
    _s(
        "data-governance",
        "data governance|master data management|data catalog",
        "data quality programme|mdm",
        "trustworthy master data|a data catalogue and lineage|fixing data quality issues",
        "Data Governance Professional",
    ),
    _s(
        "bi",
        "business intelligence|power bi|tableau dashboards",
        "reporting and dashboards|self-service bi",
        "self-service dashboards for managers|replacing spreadsheet reporting|executive KPI reporting",
        "BI Analyst Certification",
    ),
    _s(
        "mlops",
        "machine learning platform|mlops|data science enablement",
        "model deployment|ml pipeline",
        "putting ML models into production|an MLOps pipeline|industrialising data science",
        "Machine Learning Specialty",
    ),
    _s(
        "genai",
        "generative ai|llm solutions|ai copilots",
        "chatbot with llm|genai assistant",
        "an LLM-based assistant for employees|generative AI for customer service|a GenAI pilot",
        "Generative AI Specialization",
    ),
    _s(
        "computer-vision",
        "computer vision|image analytics|video analytics",
        "visual inspection|camera analytics",
        "automated visual inspection on the line|analysing camera feeds|image recognition",
        "Computer Vision Specialist",
    ),
    _s(
        "iot",
        "iot platform|industrial iot|connected devices",
        "sensor data platform|connected assets",
        "connecting field sensors|monitoring connected assets|an IoT data platform",
        "IoT Solutions Specialist",
    ),
    _s(
        "edge",
        "edge computing|edge infrastructure|distributed edge",
        "on-site compute|branch compute",
        "compute at remote sites|low-latency processing in stores|edge servers in plants",
        "Edge Infrastructure Specialist",
    ),
    _s(
        "sdwan",
        "sd-wan|wan transformation|network as a service",
        "replace mpls|branch networking",
        "replacing MPLS links|modern branch networking|software-defined WAN",
        "SD-WAN Specialist",
    ),
    _s(
        "private-5g",
        "private 5g|private lte|mobile private networks",
        "campus cellular|private wireless",
        "a private cellular network on campus|private 5G for the factory floor|"
        "wireless for warehouses",
        "Private Wireless Specialist",
    ),
    _s(
        "contact-center",
        "contact center ai|ccaas|cloud contact center",
        "call centre modernisation|ivr",
        "modernising the call centre|AI-assisted agents|a cloud IVR",
        "Contact Center Specialist",
    ),
    _s(
        "rpa",
        "robotic process automation|intelligent automation|uipath",
        "back-office automation|bots",
        "automating back-office tasks|software bots for repetitive work|process automation",
        "RPA Developer Certification",
    ),
    _s(
        "mainframe",
        "mainframe modernization|cobol migration|legacy modernization",
        "mainframe exit|cobol",
        "getting off the mainframe|rewriting COBOL applications|retiring legacy host systems",
        "Mainframe Modernization Specialist",
    ),
    _s(
        "app-modernization",
        "application modernization|microservices architecture|cloud-native development",
        "monolith refactoring|app rewrite",
        "breaking up the monolith|rewriting core apps as cloud-native|modernising custom applications",
        "Application Modernization Specialist",
    ),
    _s(
        "integration",
        "api management|enterprise integration|mulesoft",
        "system integration|apis",
        "connecting back-end systems through APIs|an integration layer|"
        "replacing point-to-point interfaces",
        "Integration Architect",
    ),
    _s(
        "backup-dr",
        "backup and disaster recovery|business continuity|draas",
        "dr site|ransomware recovery",
        "a secondary DR site|recovering from ransomware|resilient backups",
        "Backup and Recovery Specialist",
    ),
    _s(
        "managed-cloud",
        "managed cloud services|cloud operations|24x7 managed infrastructure",
        "run services|operate the cloud estate",
        "someone to run the cloud estate day to day|outsourced cloud operations|"
        "24x7 infrastructure support",
        "Managed Services Provider Program",
    ),
    _s(
        "finops",
        "finops|cloud cost optimization|cloud financial management",
        "reduce cloud bill|cost control",
        "cutting the cloud bill|cloud spend governance|chargeback for cloud costs",
        "FinOps Certified Practitioner",
    ),
    _s(
        "observability",
        "observability|application performance monitoring|logging and monitoring",
        "monitoring tools|apm",
        "end-to-end monitoring of services|finding performance bottlenecks|"
        "consolidating monitoring tools",
        "Observability Specialist",
    ),
    _s(
        "digital-workplace",
        "digital workplace|microsoft 365|modern workplace",
        "email migration|teams rollout",
        "moving email and files to Microsoft 365|a Teams rollout|collaboration tools for hybrid work",
        "Modern Work Specialist",
    ),
    _s(
        "ecommerce",
        "ecommerce platform|digital commerce|headless commerce",
        "online store|web shop",
        "a new online store|scaling the web shop for peak season|headless storefront",
        "Commerce Cloud Specialist",
    ),
    _s(
        "cdp",
        "customer data platform|marketing automation|customer 360",
        "single customer view|campaigns",
        "a single view of the customer|personalised marketing campaigns|unifying customer data",
        "Marketing Cloud Specialist",
    ),
    _s(
        "supply-chain",
        "supply chain planning|demand forecasting|warehouse management",
        "inventory optimisation|demand planning",
        "better demand forecasts|reducing stock-outs|planning across plants and warehouses",
        "Supply Chain Planning Specialist",
    ),
    _s(
        "hpc",
        "high performance computing|hpc clusters|gpu computing",
        "simulation compute|gpu cluster",
        "burst capacity for simulations|a GPU cluster for research|large-scale compute jobs",
        "HPC Specialist",
    ),
    _s(
        "vdi",
        "virtual desktop infrastructure|desktop as a service|citrix",
        "remote desktops|vdi",
        "secure remote desktops|virtual desktops for contractors|replacing Citrix farms",
        "Virtual Desktop Specialist",
    ),
    _s(
        "db-migration",
        "database migration|oracle to postgresql|database modernization",
        "oracle licence exit|database move",
        "getting out of Oracle database licences|moving databases to PostgreSQL|"
        "consolidating database servers",
        "Database Migration Specialty",
    ),
    _s(
        "payments",
        "payments platform|payment processing|open banking",
        "card payments|instant payments",
        "modernising card processing|instant payments|open-banking APIs",
        "Payments Specialist",
    ),
    _s(
        "compliance",
        "regulatory compliance|gdpr and hipaa compliance|risk and compliance",
        "audit readiness|regulatory reporting",
        "passing the next regulatory audit|meeting GDPR obligations|regulatory reporting",
        "Compliance Specialist",
    ),
    _s(
        "ot-security",
        "ot security|industrial control system security|scada security",
        "plant network security|ics protection",
        "securing plant control networks|protecting SCADA systems|segmenting the factory network",
        "OT Security Specialist",
    ),
    _s(
        "network-security",
        "network security|next-generation firewall|secure web gateway",
        "firewall refresh|perimeter security",
        "refreshing firewalls|securing the network perimeter|web filtering for offices",
        "Network Security Specialist",
    ),
    _s(
        "ehr",
        "electronic health records|epic and cerner integration|healthcare interoperability",
        "patient records|hl7 fhir",
        "connecting patient record systems|FHIR interfaces between hospitals|"
        "a new patient records system",
        "Healthcare Interoperability Specialist",
    ),
)

INDUSTRIES: tuple[str, ...] = (
    "financial-services", "healthcare", "retail", "manufacturing", "public-sector",
    "telecommunications", "energy-utilities", "media-entertainment", "transportation-logistics", "education",
)
INDUSTRY_LABELS: tuple[str, ...] = (
    "bank", "hospital group", "retailer", "manufacturer", "government agency",
    "telecom operator", "utility", "media company", "logistics company", "university",
)
REGIONS: tuple[str, ...] = (
    "north-america", "latam", "emea-north", "emea-south", "emea-central", "middle-east-africa", "apac", "anz",
)
REGION_LABELS: tuple[str, ...] = (
    "North America", "Latin America", "Northern Europe", "Southern Europe", "Central Europe",
    "the Middle East and Africa", "Asia Pacific", "Australia and New Zealand",
)

CERT_LEVELS: tuple[str, ...] = ("associate", "professional", "expert")

NAME_PREFIXES: tuple[str, ...] = (
    "Blue", "North", "Silver", "Bright", "Iron", "Cedar", "Summit", "Harbor", "Vertex", "Atlas",
    "Nimbus", "Quantum", "Granite", "Orbit", "Maple", "Falcon", "Pioneer", "Crest", "Beacon", "Cobalt",
)
NAME_CORES: tuple[str, ...] = (
    "Bridge", "Point", "Wave", "Stone", "Field", "Gate", "Path", "Line", "Peak", "Works",
    "Logic", "Sphere", "Forge", "Shift", "Loop", "Grid", "Nova", "Scale", "Core", "Lane",
)
# Name suffix per partner role, so names hint at the business model like real ones do.
ROLE_NAME_SUFFIXES: dict[str, tuple[str, ...]] = {
    "services": ("Consulting Group", "Systems", "Technologies", "Solutions", "Digital"),
    "influence": ("Advisors", "Partners", "Strategy", "Labs", "Research"),
    "reseller": ("Distribution", "Supply", "Direct", "IT Store", "Trading"),
}
ROLE_NOUNS: dict[str, tuple[str, ...]] = {
    "services": ("a systems integrator", "a managed services provider", "a consultancy and delivery partner"),
    "influence": ("an independent advisor", "a software vendor", "a strategy consultancy"),
    "reseller": ("a value-added reseller", "a distributor", "a solution provider"),
}

# How customers far from the partner world describe each skill (vocabulary_distance): outcomes and nicknames,
# never a word of any partner tag, so only history or meaning, not shared words, links them to partners.
CUSTOMER_PHRASINGS: dict[str, tuple[str, ...]] = {
    "aws-migration": (
        "closing our own server rooms",
        "renting compute from the online bookstore's hosting arm",
        "no owned hardware after this year",
    ),
    "azure-migration": (
        "moving onto hosting from our office-software vendor",
        "getting off the VMware hosts",
        "one Redmond tenant for servers and email",
    ),
    "gcp-migration": (
        "moving onto the search giant's hosting",
        "leaving the colocation site for Mountain View",
        "replatforming onto the Android maker's servers",
    ),
    "kubernetes": (
        "packaging our apps so they run anywhere",
        "one place to run all our small apps",
        "fewer hand-built servers for product teams",
    ),
    "devops": (
        "shipping features every week instead of every quarter",
        "fewer failed go-lives",
        "developers waiting less for releases",
    ),
    "iac": (
        "environments that rebuild themselves from scripts",
        "no more hand-built test environments",
        "a copy of production in minutes",
    ),
    "sap-s4hana": (
        "our Walldorf back office runs out of support",
        "replacing the ageing finance and logistics ledger",
        "the big Walldorf upgrade",
    ),
    "salesforce": (
        "our reps live in spreadsheets",
        "tracking leads and deals properly",
        "one view of every account for the field team",
    ),
    "servicenow": (
        "tickets get lost between teams",
        "a better help desk for employees",
        "requests and approvals without endless emails",
    ),
    "oracle-erp": (
        "month-end close takes too long",
        "the Redwood Shores ledger renewal",
        "one general ledger for all subsidiaries",
    ),
    "dynamics": (
        "low-effort forms and apps for staff",
        "one Redmond package for sellers and finance",
        "citizen developers building small tools",
    ),
    "zero-trust": (
        "staff connect from anywhere without the VPN",
        "never assume the office LAN is safe",
        "checking every user and laptop each time",
    ),
    "iam": ("one password for every tool", "leavers still have accounts", "who can see what, and why"),
    "siem": ("someone watching for attacks at night", "we find breaches too late", "alarms nobody reads"),
    "cspm": (
        "buckets readable by anyone",
        "wrong settings in our hyperscaler accounts",
        "audits of rented servers and storage",
    ),
    "endpoint": ("laptops keep getting viruses", "locking down staff PCs", "malware on field laptops"),
    "lakehouse": (
        "one store for reporting and experiments",
        "merging the raw file dump and the marts",
        "one copy of every table",
    ),
    "dwh": (
        "reports take all night to run",
        "retiring the Teradata box",
        "numbers differ between departments",
    ),
    "data-governance": (
        "nobody trusts the numbers",
        "who owns which field",
        "the same supplier entered five times",
    ),
    "bi": (
        "managers want charts not spreadsheets",
        "weekly figures without manual work",
        "a KPI wall for the board",
    ),
    "mlops": (
        "our models never leave the laptop",
        "retraining predictions by themselves",
        "getting experiments into production",
    ),
    "genai": (
        "a chat assistant that answers staff questions",
        "drafting letters by themselves",
        "summarising long documents",
    ),
    "computer-vision": (
        "cameras spotting defects on the line",
        "counting people from cameras",
        "reading labels from photos",
    ),
    "iot": (
        "sensors on every pump",
        "knowing where our trucks and machines are",
        "readings from the field every minute",
    ),
    "edge": (
        "servers in each store",
        "crunching numbers right beside the machines",
        "local compute in remote plants",
    ),
    "sdwan": (
        "cheaper links between our branches",
        "dropping the leased lines",
        "branch internet that just works",
    ),
    "private-5g": (
        "our own cellular coverage in the plant",
        "reliable radio links across the port",
        "phone-grade wireless for robots in the yard",
    ),
    "contact-center": (
        "callers wait too long on hold",
        "agents juggling five screens",
        "routing calls to the right person",
    ),
    "rpa": ("staff retyping invoices", "copy-paste work between screens", "scripts that click through forms"),
    "mainframe": (
        "the green-screen host",
        "retiring the IBM host",
        "programmers of the old host are retiring",
    ),
    "app-modernization": (
        "our homegrown apps are too slow to change",
        "rewriting the order-taking software",
        "splitting the big old app",
    ),
    "integration": (
        "systems that don't talk to each other",
        "nightly file transfers break",
        "one hub between our apps",
    ),
    "backup-dr": (
        "getting back up after a ransomware hit",
        "a second site in case of fire",
        "restoring lost files quickly",
    ),
    "managed-cloud": (
        "someone else to keep the servers running",
        "we have no ops staff at night",
        "outsourcing the hosting day to day",
    ),
    "finops": (
        "the hosting bill keeps growing",
        "who is spending what on hyperscalers",
        "cutting waste in rented servers",
    ),
    "observability": (
        "we learn about outages from users",
        "why is the app slow",
        "one screen for every alarm",
    ),
    "digital-workplace": (
        "email, chat and files for hybrid staff",
        "moving off Lotus Notes",
        "better tools for home working",
    ),
    "ecommerce": (
        "selling online",
        "our shop site crashes on Black Friday",
        "more baskets reaching checkout",
    ),
    "cdp": ("knowing each shopper across channels", "personalised offers", "one profile per buyer"),
    "supply-chain": (
        "shelves run empty",
        "too much stock in the wrong place",
        "predicting what stores will order",
    ),
    "hpc": ("simulations take weeks", "thousands of cores for research", "crunching models overnight"),
    "vdi": (
        "contractors work from their own PCs",
        "remote screens for call agents",
        "locked-down remote desks",
    ),
    "db-migration": (
        "the Redwood licence audit",
        "moving our SQL estate to free software",
        "cheaper engines behind our apps",
    ),
    "payments": (
        "taking card money at the till",
        "instant transfers for clients",
        "fewer failed card transactions",
    ),
    "compliance": ("the auditors are coming", "regulator fines last year", "proving we follow the rules"),
    "ot-security": (
        "hackers reaching the plant floor",
        "guarding the production line controllers",
        "separating office and factory PCs",
    ),
    "network-security": (
        "blocking bad websites in offices",
        "the perimeter boxes are end of life",
        "intrusions through the office internet link",
    ),
    "ehr": ("doctors retyping patient charts", "sharing charts between hospitals", "one chart per patient"),
}
