# ruff: noqa: E501 (the paraphrased provision texts are data)
"""The provisions of ETSI TS 104 223 V1.1.1 / EN 304 223 V2.1.1 as ModelGuard maps them (pure data).

Transcribed from docs/etsi-map.md (the project's working map). The text is a paraphrase, not the
standard's wording; IDs and shall/should come from public summaries of the EN and must be checked
against the official text before relying on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DISCLAIMER = (
    "This mapping is based on public summaries of ETSI TS 104 223 V1.1.1 and EN 304 223 V2.1.1, not on the "
    "official text; provision wording is paraphrased. Verify against the official text before relying on it."
)

Norm = Literal["S", "R", "S+R"]
Role = Literal["ENFORCE", "EVIDENCE", "ORG"]


@dataclass(frozen=True)
class Principle:
    number: int
    clause: str
    title: str
    phase: str


@dataclass(frozen=True)
class Provision:
    id: str
    clause: str
    text: str
    norm: Norm
    role: Role


PRINCIPLES: tuple[Principle, ...] = (
    Principle(1, "5.1.1", "Raise awareness", "Secure Design"),
    Principle(2, "5.1.2", "Design for security", "Secure Design"),
    Principle(3, "5.1.3", "Threats and risks", "Secure Design"),
    Principle(4, "5.1.4", "Human responsibility", "Secure Design"),
    Principle(5, "5.2.1", "Assets", "Secure Development"),
    Principle(6, "5.2.2", "Infrastructure", "Secure Development"),
    Principle(7, "5.2.3", "Supply chain", "Secure Development"),
    Principle(8, "5.2.4", "Documentation", "Secure Development"),
    Principle(9, "5.2.5", "Testing", "Secure Development"),
    Principle(10, "5.3.1", "End-users and affected entities", "Secure Deployment"),
    Principle(11, "5.4.1", "Updates and patches", "Secure Maintenance"),
    Principle(12, "5.4.2", "Monitoring", "Secure Maintenance"),
    Principle(13, "5.5.1", "Disposal", "Secure End of Life"),
)

PROVISIONS: tuple[Provision, ...] = (
    Provision(
        "5.1.1-1",
        "5.1.1",
        "The organisation's cyber-security training must include AI-security material, which is refreshed regularly (for example when significant new AI threats appear).",
        "S",
        "ORG",
    ),
    Provision(
        "5.1.1-1.1",
        "5.1.1",
        "AI-security training is adapted to each person's role and responsibilities.",
        "S",
        "ORG",
    ),
    Provision(
        "5.1.1-2",
        "5.1.1",
        "All staff are kept up to date on current AI-related threats and vulnerabilities, and on known mitigations where available.",
        "S",
        "ORG",
    ),
    Provision(
        "5.1.1-2.1",
        "5.1.1",
        "Those threat updates go out over several channels (bulletins, newsletters, internal knowledge base).",
        "R",
        "ORG",
    ),
    Provision(
        "5.1.1-2.2",
        "5.1.1",
        "Developers get training in AI-specific secure coding and secure system design.",
        "S",
        "ORG",
    ),
    Provision(
        "5.1.2-1",
        "5.1.2",
        "Before deciding to build an AI system, assess and write down the business need/problem together with the AI security risks and planned mitigations.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.1.2-1.1",
        "5.1.2",
        "If the Data Custodian sits inside the Developer's organisation, bring them into requirements and data-needs discussions.",
        "S",
        "ORG",
    ),
    Provision(
        "5.1.2-2",
        "5.1.2",
        "Design and build the AI system so it holds up against adversarial attacks, unexpected inputs and system failure.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.1.2-3",
        "5.1.2",
        "Keep an audit trail covering the design, operation and lifecycle management of models, datasets and prompts.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.1.2-4",
        "5.1.2",
        "Before using an external component (third-party API, open-source model, …), carry out AI-security risk assessment and due diligence.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.1.2-5",
        "5.1.2",
        "The Data Custodian checks that the system's intended use fits the sensitivity of its training data and the data-protection controls.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.1.2-5.1",
        "5.1.2",
        "Encourage a culture in which staff report AI security risks.",
        "R",
        "ORG",
    ),
    Provision(
        "5.1.2-6",
        "5.1.2",
        "When the AI system talks to other internal or external systems, give it only the permissions it needs, and risk-assess those permissions.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.1.2-7",
        "5.1.2",
        "Do security due diligence on any external provider used for any part of the system (mixed shall/should).",
        "S+R",
        "ORG",
    ),
    Provision(
        "5.1.3-1",
        "5.1.3",
        "Analyse threats and manage security risks. The threat model is revisited regularly and covers AI-specific attacks such as data poisoning, model inversion and membership inference.",
        "S+R",
        "EVIDENCE",
    ),
    Provision(
        "5.1.3-1.1",
        "5.1.3",
        "Repeat threat modelling and risk management whenever a new setting or configuration option is introduced or changed, at any lifecycle stage.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.1.3-1.2",
        "5.1.3",
        "Developers manage the extra risk from model capabilities the use case does not need (for example a multimodal model used for one modality).",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.1.3-1.3",
        "5.1.3",
        "System Operators choose controls for identified risks, weighing cost against corporate risk tolerance.",
        "S",
        "ORG",
    ),
    Provision(
        "5.1.3-2",
        "5.1.3",
        "Threats the Developer cannot fix are passed to System Operators for their threat modelling, and relevant information is passed on to End-users (mixed).",
        "S+R",
        "EVIDENCE",
    ),
    Provision(
        "5.1.3-3",
        "5.1.3",
        "Where external parties are responsible for some AI security risks, the System Operator gets assurance that they can handle them.",
        "R",
        "ORG",
    ),
    Provision(
        "5.1.3-4",
        "5.1.3",
        "Keep monitoring and reviewing the system infrastructure against risk appetite, accepting that residual risk remains.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.1.4-1",
        "5.1.4",
        "Build in, and keep working, capabilities that let humans oversee the system.",
        "R",
        "ENFORCE",
    ),
    Provision(
        "5.1.4-2",
        "5.1.4",
        "Make it easy for humans to assess the outputs they are responsible for (explainable or interpretable outputs).",
        "R",
        "ORG",
    ),
    Provision(
        "5.1.4-3",
        "5.1.4",
        "Where human oversight is relied on as a risk control, design, build, verify and maintain technical measures that make that oversight effective.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.1.4-4",
        "5.1.4",
        "Developers check that the security controls specified by the Data Custodian are really in the system.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.1.4-5",
        "5.1.4",
        "Tell End-users about prohibited use cases.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.2.1-1",
        "5.2.1",
        "Keep a complete inventory of assets, including how they depend on and connect to each other.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.2.1-2",
        "5.2.1",
        "Have processes and tools to track, authenticate, version-control and secure AI assets.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.1-3",
        "5.2.1",
        "System Operators adapt disaster-recovery plans to cover attacks aimed specifically at AI systems.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.2.1-3.1",
        "5.2.1",
        "Make sure a known-good state can be restored.",
        "R",
        "ENFORCE",
    ),
    Provision(
        "5.2.1-4",
        "5.2.1",
        "Protect sensitive data, such as training and test data, from unauthorised access.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.1-4.1",
        "5.2.1",
        "Check and sanitise data and inputs during design, according to where they come from and are stored, and repeat this when the model is revised through user feedback or continuous learning.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.1-4.2",
        "5.2.1",
        "Where training data or model weights may be confidential, protect them proportionately.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.2-1",
        "5.2.2",
        "Review the organisation's access-control arrangements and apply suitable protection to APIs, models, data, and training/processing pipelines.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.2-2",
        "5.2.2",
        "A Developer that offers an API to external customers or collaborators applies controls against attacks through that API, for example limiting model access rate to slow reverse engineering, overload or rapid poisoning/injection.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.2-3",
        "5.2.2",
        "Use dedicated environments for development and model tuning, technically separated and run on least privilege.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.2-4",
        "5.2.2",
        "Have a vulnerability disclosure policy and publish it.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.2.2-5",
        "5.2.2",
        "Write, test and maintain an AI incident-management plan and an AI recovery plan.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.2.2-6",
        "5.2.2",
        "When using cloud providers, make sure the contracts support meeting the requirements above.",
        "R",
        "ORG",
    ),
    Provision(
        "5.2.3-1",
        "5.2.3",
        "Follow secure software-supply-chain processes when developing AI models and systems.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.3-2",
        "5.2.3",
        "A System Operator that uses or adapts poorly documented or unsecured models/components must be able to justify that choice in writing.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.3-2.1",
        "5.2.3",
        "In that case, also put mitigating controls in place and do a risk assessment tied to those models/components.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.2.3-2.2",
        "5.2.3",
        "Share that justification with End-users in an accessible form.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.2.3-3",
        "5.2.3",
        "Re-run evaluations on released models before using them.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.3-4",
        "5.2.3",
        "Tell End-users, accessibly, before a model is updated.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.4-1",
        "5.2.4",
        "Developers document, and keep a clear audit trail of, the system design and the post-deployment maintenance plans. They should also make this available to downstream System Operators and Data Custodians (mixed).",
        "S+R",
        "EVIDENCE",
    ),
    Provision(
        "5.2.4-1.1",
        "5.2.4",
        "The documentation should carry security-relevant details: training-data sources (including fine-tuning and feedback data), intended scope and limits, guardrails, hashes/signatures, retention period, review frequency and failure modes.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.2.4-1.2",
        "5.2.4",
        "For released models, publish cryptographic hashes of the model components shared with others so that they can verify authenticity.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.4-2",
        "5.2.4",
        "Where training data comes from public sources, record how it was obtained, where from, and how it is used in the model.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.2.4-2.1",
        "5.2.4",
        "That record should include at least the source URL and the date/time of retrieval, so poisoned sources can be traced.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.2.4-3",
        "5.2.4",
        "Keep an audit log of changes to system prompts and other model configuration that affect how the system behaves.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.2.5-1",
        "5.2.5",
        "Every model, application and system released to System Operators or End-users has been through security-assessment testing.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.5-2",
        "5.2.5",
        "System Operators test before deployment, with support from Developers.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.2.5-2.1",
        "5.2.5",
        "Security testing should use independent testers with AI-relevant skills.",
        "R",
        "ORG",
    ),
    Provision(
        "5.2.5-3",
        "5.2.5",
        "Developers share test and evaluation findings with System Operators.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.2.5-4",
        "5.2.5",
        "Check that outputs do not let System Operators or End-users reverse-engineer non-public parts of the model or its training data.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.2.5-4.1",
        "5.2.5",
        "Check that outputs do not give System Operators or End-users unintended influence over the system.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.3.1-1",
        "5.3.1",
        "Tell End-users, accessibly, where and how their data will be used, accessed and stored (e.g. for retraining, or human review). An external Developer must give the System Operator this information.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.3.1-2",
        "5.3.1",
        "Give End-users accessible guidance on using, managing, integrating and configuring the system. An external Developer supplies what the System Operator needs for this.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.3.1-2.1",
        "5.3.1",
        "That guidance covers appropriate use, known limitations and potential failure modes.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.3.1-2.2",
        "5.3.1",
        "Proactively tell End-users about security-relevant updates, explained clearly.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.3.1-3",
        "5.3.1",
        "Support End-users and Affected Entities during and after a cyber incident to contain and reduce harm, with the process documented and agreed in contracts.",
        "R",
        "ORG",
    ),
    Provision(
        "5.4.1-1",
        "5.4.1",
        "Developers provide security updates/patches where possible and notify System Operators, who roll them out to End-users.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.4.1-1.1",
        "5.4.1",
        "Developers have mechanisms and contingency plans to mitigate risk where a system cannot be updated.",
        "S",
        "EVIDENCE",
    ),
    Provision(
        "5.4.1-2",
        "5.4.1",
        "Treat a major update like a new model version, with a fresh round of security testing and evaluation.",
        "R",
        "ENFORCE",
    ),
    Provision(
        "5.4.1-3",
        "5.4.1",
        "Help System Operators evaluate and respond to model changes (e.g. preview/beta access, versioned APIs).",
        "R",
        "ENFORCE",
    ),
    Provision(
        "5.4.2-1",
        "5.4.2",
        "System Operators log system and user actions to support security compliance, incident investigation and vulnerability remediation.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.4.2-2",
        "5.4.2",
        "Analyse those logs to confirm the model keeps giving intended outputs and to catch anomalies, breaches or unexpected behaviour over time (e.g. data drift, poisoning).",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.4.2-3",
        "5.4.2",
        "Monitor internal states of the AI system where that helps address threats or supports later security analytics.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.4.2-4",
        "5.4.2",
        "Monitor model and system performance over time to spot sudden or gradual behaviour changes that matter for security.",
        "R",
        "EVIDENCE",
    ),
    Provision(
        "5.5.1-1",
        "5.5.1",
        "When transferring or sharing ownership of training data and/or a model, involve the Data Custodians and securely dispose of the assets concerned.",
        "S",
        "ENFORCE",
    ),
    Provision(
        "5.5.1-2",
        "5.5.1",
        "When decommissioning a model and/or system, involve the Data Custodians and delete the related data and configuration.",
        "S",
        "ENFORCE",
    ),
)
