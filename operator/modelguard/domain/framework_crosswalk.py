"""Which parts of other frameworks each ETSI provision supports, as ModelGuard reads them (pure data).

No authoritative crosswalk between ETSI TS 104 223 and the EU AI Act, the NIST AI RMF, ISO/IEC 42001 or
ISO/IEC 27001 exists. These references are ModelGuard's reading, made so that a compliance team can start
from the framework it already reports against; they are not a claim of conformity with any of them.

Each principle has the references all its provisions share; a provision adds its own where it speaks to a
narrower control (training-data provenance, logging, deletion...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelguard.domain.etsi_provisions import Provision


@dataclass(frozen=True)
class Framework:
    key: str
    title: str
    unit: str  # what one reference names: an article, a subcategory, a control


FRAMEWORKS: tuple[Framework, ...] = (
    Framework("eu-ai-act", "EU AI Act (Regulation (EU) 2024/1689)", "article"),
    Framework("nist-ai-rmf", "NIST AI RMF 1.0 (NIST AI 100-1)", "subcategory"),
    Framework("iso-42001", "ISO/IEC 42001:2023 Annex A", "control"),
    Framework("iso-27001", "ISO/IEC 27001:2022 Annex A", "control"),
)
FRAMEWORK_KEYS = tuple(f.key for f in FRAMEWORKS)

READING = (
    "Cross-references are ModelGuard's reading of where each ETSI provision supports another framework; no "
    "authoritative crosswalk exists. Use them to find evidence, not as a statement of conformity."
)

Refs = Mapping[str, tuple[str, ...]]

BY_CLAUSE: dict[str, Refs] = {
    "5.1.1": {  # raise awareness
        "eu-ai-act": ("Art. 4",),
        "nist-ai-rmf": ("GOVERN 2.2", "GOVERN 4.3"),
        "iso-42001": ("A.4.6", "A.3.2"),
        "iso-27001": ("6.3", "5.7"),
    },
    "5.1.2": {  # design for security
        "eu-ai-act": ("Art. 9", "Art. 15"),
        "nist-ai-rmf": ("MAP 1.1", "MEASURE 2.7", "GOVERN 1.1"),
        "iso-42001": ("A.6.1.2", "A.6.1.3", "A.6.2.2"),
        "iso-27001": ("8.25", "8.26", "8.27"),
    },
    "5.1.3": {  # threats and risks
        "eu-ai-act": ("Art. 9",),
        "nist-ai-rmf": ("MAP 5.1", "MEASURE 1.1", "MEASURE 3.1", "MANAGE 1.3"),
        "iso-42001": ("A.5.2", "A.5.3", "A.6.1.3"),
        "iso-27001": ("5.7", "8.8"),
    },
    "5.1.4": {  # human responsibility
        "eu-ai-act": ("Art. 14", "Art. 26"),
        "nist-ai-rmf": ("GOVERN 3.2", "MAP 3.5", "MEASURE 2.8"),
        "iso-42001": ("A.3.2", "A.9.2"),
        "iso-27001": ("5.2", "5.3"),
    },
    "5.2.1": {  # assets
        "eu-ai-act": ("Art. 15", "Art. 17"),
        "nist-ai-rmf": ("GOVERN 1.6", "MANAGE 2.4"),
        "iso-42001": ("A.4.2", "A.4.3", "A.4.4"),
        "iso-27001": ("5.9", "5.12", "8.13"),
    },
    "5.2.2": {  # infrastructure
        "eu-ai-act": ("Art. 15",),
        "nist-ai-rmf": ("MEASURE 2.7", "MANAGE 2.3"),
        "iso-42001": ("A.4.5", "A.6.2.5"),
        "iso-27001": ("5.15", "8.3", "8.5", "8.20", "8.22"),
    },
    "5.2.3": {  # supply chain
        "eu-ai-act": ("Art. 15", "Art. 25"),
        "nist-ai-rmf": ("GOVERN 6.1", "MAP 4.1", "MANAGE 3.1", "MANAGE 3.2"),
        "iso-42001": ("A.10.2", "A.10.3"),
        "iso-27001": ("5.19", "5.21", "5.22"),
    },
    "5.2.4": {  # documentation
        "eu-ai-act": ("Art. 11", "Art. 18", "Art. 53"),
        "nist-ai-rmf": ("GOVERN 1.4", "MAP 2.2", "MEASURE 2.8"),
        "iso-42001": ("A.6.2.3", "A.6.2.7", "A.8.2"),
        "iso-27001": ("5.37", "8.9"),
    },
    "5.2.5": {  # testing
        "eu-ai-act": ("Art. 15", "Art. 55"),
        "nist-ai-rmf": ("MEASURE 2.3", "MEASURE 2.7", "GOVERN 4.3"),
        "iso-42001": ("A.6.2.4",),
        "iso-27001": ("8.29",),
    },
    "5.3.1": {  # end-users and affected entities
        "eu-ai-act": ("Art. 13", "Art. 50"),
        "nist-ai-rmf": ("GOVERN 5.1", "MAP 2.2", "MEASURE 2.9"),
        "iso-42001": ("A.8.2", "A.8.5", "A.9.4"),
        "iso-27001": ("5.10", "5.34"),
    },
    "5.4.1": {  # updates and patches
        "eu-ai-act": ("Art. 15", "Art. 72"),
        "nist-ai-rmf": ("MANAGE 2.4", "MANAGE 3.2", "MANAGE 4.1"),
        "iso-42001": ("A.6.2.6",),
        "iso-27001": ("8.8", "8.32"),
    },
    "5.4.2": {  # monitoring
        "eu-ai-act": ("Art. 12", "Art. 19", "Art. 26", "Art. 72"),
        "nist-ai-rmf": ("MEASURE 2.4", "MEASURE 3.1", "MANAGE 4.1"),
        "iso-42001": ("A.6.2.6", "A.6.2.8"),
        "iso-27001": ("8.15", "8.16"),
    },
    "5.5.1": {  # disposal
        "eu-ai-act": ("Art. 10",),
        "nist-ai-rmf": ("GOVERN 1.7", "MANAGE 2.4"),
        "iso-42001": ("A.6.2.6", "A.7.2"),
        "iso-27001": ("8.10", "7.14"),
    },
}

BY_PROVISION: dict[str, Refs] = {
    "5.1.2-3": {
        "eu-ai-act": ("Art. 12",),
        "nist-ai-rmf": ("MEASURE 2.8",),
        "iso-42001": ("A.6.2.8",),
        "iso-27001": ("8.15",),
    },
    "5.1.2-4": {"nist-ai-rmf": ("GOVERN 6.1", "MAP 4.1"), "iso-42001": ("A.10.3",), "iso-27001": ("5.19", "5.21")},
    "5.1.2-5": {
        "eu-ai-act": ("Art. 10",),
        "nist-ai-rmf": ("MEASURE 2.10",),
        "iso-42001": ("A.7.2", "A.7.4"),
        "iso-27001": ("5.34",),
    },
    "5.1.2-6": {"iso-27001": ("8.2", "5.15"), "nist-ai-rmf": ("MANAGE 2.3",)},
    "5.1.2-7": {"nist-ai-rmf": ("GOVERN 6.1",), "iso-42001": ("A.10.3",), "iso-27001": ("5.19", "5.20")},
    "5.1.3-2": {"eu-ai-act": ("Art. 13",), "nist-ai-rmf": ("MAP 5.2", "MANAGE 4.3"), "iso-42001": ("A.8.5",)},
    "5.1.3-3": {"nist-ai-rmf": ("GOVERN 6.2",), "iso-42001": ("A.10.2",), "iso-27001": ("5.20",)},
    "5.1.4-5": {"eu-ai-act": ("Art. 13",), "iso-42001": ("A.9.4",)},
    "5.2.1-1": {"nist-ai-rmf": ("MAP 4.1",), "iso-27001": ("5.9",)},
    "5.2.1-2": {"iso-27001": ("8.24", "8.32")},
    "5.2.1-3": {"nist-ai-rmf": ("MANAGE 2.3",), "iso-27001": ("5.29", "5.30", "8.13")},
    "5.2.1-3.1": {"iso-27001": ("8.13", "5.30")},
    "5.2.1-4": {"eu-ai-act": ("Art. 10",), "iso-42001": ("A.7.2",), "iso-27001": ("8.3", "8.12")},
    "5.2.1-4.1": {"eu-ai-act": ("Art. 10",), "iso-42001": ("A.7.4", "A.7.6"), "iso-27001": ("8.7",)},
    "5.2.1-4.2": {"iso-27001": ("8.3", "8.24")},
    "5.2.2-3": {"iso-27001": ("8.31",)},
    "5.2.2-4": {"nist-ai-rmf": ("GOVERN 5.1",), "iso-42001": ("A.8.3",), "iso-27001": ("5.5", "6.8")},
    "5.2.2-5": {
        "eu-ai-act": ("Art. 73",),
        "nist-ai-rmf": ("MANAGE 4.1", "MANAGE 4.3"),
        "iso-42001": ("A.8.4",),
        "iso-27001": ("5.24", "5.26", "5.29"),
    },
    "5.2.2-6": {"iso-27001": ("5.23",)},
    "5.2.3-1": {"iso-27001": ("8.28", "8.30")},
    "5.2.3-3": {"nist-ai-rmf": ("MEASURE 2.3",), "iso-42001": ("A.6.2.4",), "iso-27001": ("8.29",)},
    "5.2.3-4": {"eu-ai-act": ("Art. 13",), "iso-42001": ("A.8.5",)},
    "5.2.4-1.2": {"iso-27001": ("8.24",)},
    "5.2.4-2": {"eu-ai-act": ("Art. 10",), "nist-ai-rmf": ("MAP 2.3",), "iso-42001": ("A.7.3", "A.7.5")},
    "5.2.4-2.1": {"eu-ai-act": ("Art. 10",), "iso-42001": ("A.7.5",)},
    "5.2.4-3": {"eu-ai-act": ("Art. 12",), "iso-42001": ("A.6.2.8",), "iso-27001": ("8.15", "8.32")},
    "5.2.5-4": {"nist-ai-rmf": ("MEASURE 2.10",), "iso-27001": ("8.12",)},
    "5.3.1-1": {"nist-ai-rmf": ("MEASURE 2.10",), "iso-27001": ("5.34",)},
    "5.3.1-2.2": {"iso-42001": ("A.8.5",)},
    "5.3.1-3": {
        "eu-ai-act": ("Art. 73",),
        "nist-ai-rmf": ("MANAGE 4.3",),
        "iso-42001": ("A.8.4",),
        "iso-27001": ("5.26",),
    },
    "5.4.1-2": {
        "eu-ai-act": ("Art. 43",),
        "nist-ai-rmf": ("MEASURE 2.3",),
        "iso-42001": ("A.6.2.4",),
        "iso-27001": ("8.29",),
    },
    "5.4.2-1": {"nist-ai-rmf": ("MEASURE 2.8",), "iso-27001": ("5.28",)},
    "5.4.2-2": {"nist-ai-rmf": ("MEASURE 2.5", "MANAGE 4.1")},
    "5.5.1-2": {"nist-ai-rmf": ("MANAGE 4.1",), "iso-27001": ("5.28",)},
}


def references(provision: Provision) -> dict[str, tuple[str, ...]]:
    """The provision's references per framework (its principle's, then its own), in FRAMEWORKS order."""
    shared = BY_CLAUSE.get(provision.clause, {})
    own = BY_PROVISION.get(provision.id, {})
    result: dict[str, tuple[str, ...]] = {}
    for key in FRAMEWORK_KEYS:
        refs = tuple(dict.fromkeys((*shared.get(key, ()), *own.get(key, ()))))
        if refs:
            result[key] = refs
    return result
