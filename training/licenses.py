"""License allowlist: read a package's license from its own metadata and decide if it may be used.

Everything here is pure: each reader takes the text of one metadata file (Python METADATA/PKG-INFO,
npm package.json, Cargo.toml, Debian machine-readable copyright) and returns a `License` verdict.
Unknown or ambiguous licenses are never allowed.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from email.parser import HeaderParser

ALLOWED: frozenset[str] = frozenset(
    {
        "MIT",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSD",
        "Apache-2.0",
        "ISC",
        "PSF-2.0",
        "Python-2.0",
        "0BSD",
        "Zlib",
    }
)

# Lower-cased spellings seen in the wild -> canonical SPDX-like id. Ids absent here stay as written
# (upper-cased SPDX ids such as GPL-3.0-only are recognised as "known but not allowed").
_ALIASES: dict[str, str] = {
    "mit": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit license (mit)": "MIT",
    "expat": "MIT",
    "expat license": "MIT",
    "bsd": "BSD",
    "bsd license": "BSD",
    "bsd-like": "BSD",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "modified bsd license": "BSD-3-Clause",
    "revised bsd license": "BSD-3-Clause",
    "revised bsd": "BSD-3-Clause",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "bsd 2-clause license": "BSD-2-Clause",
    "bsd-2": "BSD-2-Clause",
    "2-clause bsd": "BSD-2-Clause",
    "simplified bsd": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause",
    "apache-2.0": "Apache-2.0",
    "apache": "Apache-2.0",
    "apache license": "Apache-2.0",
    "apache 2.0 license": "Apache-2.0",
    "apache license 2": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "asl 2.0": "Apache-2.0",
    "isc": "ISC",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "psf": "PSF-2.0",
    "psf-2": "PSF-2.0",
    "psf-2.0": "PSF-2.0",
    "psfl": "PSF-2.0",
    "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "python-2.0": "Python-2.0",
    "0bsd": "0BSD",
    "zlib": "Zlib",
    "zlib license": "Zlib",
}

_CLASSIFIER_PREFIX = "License :: "
_NO_LICENSE = frozenset(
    {"", "UNKNOWN", "NONE", "OTHER", "OTHER/PROPRIETARY LICENSE", "LICENSE", "LICENSE.TXT", "SEE LICENSE"}
)
_SPDX_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True, slots=True)
class License:
    """A license verdict: the expression as read (or "" when none was found) and whether it is allowed."""

    expression: str
    allowed: bool
    source: str = ""

    @property
    def label(self) -> str:
        return self.expression or "UNKNOWN"


UNKNOWN = License("", False, "none")


def canonical_id(name: str) -> str | None:
    """Canonical id of one license name, or None when the name is not recognised."""
    key = " ".join(name.strip().strip(",;").split()).lower()
    if "~" in key:  # Debian marks a variant text of a license with a ~suffix (BSD-3-clause~Google)
        key = key.split("~", 1)[0]
        name = name.split("~", 1)[0]
    if key in _ALIASES:
        return _ALIASES[key]
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]*", name.strip()) and not key.startswith("licenseref"):
        # Looks like an SPDX id (e.g. GPL-3.0-only, MPL-2.0): known, but only allowed via _ALIASES.
        return name.strip()
    return None


def _allowed_id(name: str) -> bool:
    ident = canonical_id(name)
    return ident is not None and ident in ALLOWED


class _Parser:
    """Recursive-descent evaluator for SPDX expressions: OR binds looser than AND, WITH adds an exception."""

    def __init__(self, text: str) -> None:
        # Cargo's legacy "MIT/Apache-2.0" means OR.
        self.tokens = _SPDX_TOKEN.findall(text.replace("/", " OR "))
        self.pos = 0

    def parse(self) -> bool:
        value = self._or()
        if self.pos != len(self.tokens):
            raise ValueError(f"trailing tokens in license expression: {self.tokens[self.pos :]}")
        return value

    def _peek(self) -> str:
        return self.tokens[self.pos].upper() if self.pos < len(self.tokens) else ""

    def _or(self) -> bool:
        value = self._and()
        while self._peek() == "OR":
            self.pos += 1
            value = self._and() or value
        return value

    def _and(self) -> bool:
        value = self._atom()
        while self._peek() == "AND":
            self.pos += 1
            value = self._atom() and value
        return value

    def _atom(self) -> bool:
        if self.pos >= len(self.tokens):
            raise ValueError("license expression ends early")
        token = self.tokens[self.pos]
        self.pos += 1
        if token == "(":
            value = self._or()
            if self._peek() != ")":
                raise ValueError("unbalanced parenthesis in license expression")
            self.pos += 1
            return value
        if token.upper() in {"OR", "AND", "WITH", ")"}:
            raise ValueError(f"unexpected {token!r} in license expression")
        allowed = _allowed_id(token.rstrip("+"))
        if self._peek() == "WITH":  # an exception only grants more permissions
            self.pos += 2
        return allowed


def evaluate_expression(expression: str, source: str) -> License:
    """Verdict for an SPDX-style expression such as "MIT OR Apache-2.0" (malformed -> not allowed)."""
    text = " ".join(expression.replace("/", " OR ").split())
    if not text:
        return UNKNOWN
    single = canonical_id(text)
    if single is not None:
        return License(single, single in ALLOWED, source)
    try:
        return License(text, _Parser(text).parse(), source)
    except ValueError:
        return License(text, False, source)


def _classifier_id(classifier: str) -> str | None:
    parts = [p.strip() for p in classifier.split("::")]
    if len(parts) < 2 or parts[0] != "License":
        return None
    name = parts[-1]
    if name in {"OSI Approved", "Other/Proprietary License", "Freely Distributable"}:
        return name  # too vague: recognised, never allowed
    ident = canonical_id(name)
    return ident if ident is not None else name


def from_python_metadata(text: str) -> License:
    """Verdict from a dist-info METADATA or sdist PKG-INFO file.

    Order: `License-Expression` (PEP 639) wins; else the short `License` field and the license
    classifiers must all agree on allowed licenses (a classifier of a non-allowed license, e.g. MPL
    beside MIT, makes it ambiguous and so not allowed); else the first line of a pasted license text.
    """
    headers = HeaderParser().parsestr(text.split("\n\n", 1)[0] + "\n\n")
    expression = headers.get("License-Expression")
    if expression:
        return evaluate_expression(expression, "License-Expression")
    ids: set[str] = set()
    for classifier in headers.get_all("Classifier") or []:
        if classifier.startswith(_CLASSIFIER_PREFIX):
            ident = _classifier_id(classifier)
            if ident is not None and ident != "OSI Approved":
                ids.add(ident)
    verdicts = [License(i, i in ALLOWED, "Classifier") for i in sorted(ids)]
    field = (headers.get("License") or "").strip()
    if field and "\n" not in field and len(field) < 100 and field.upper() not in _NO_LICENSE:
        verdicts.append(evaluate_expression(field, "License"))
    elif field and not verdicts:
        first_id = canonical_id(field.splitlines()[0])
        if first_id is not None and first_id in ALLOWED:
            return License(first_id, True, "License text")
    if not verdicts:
        return UNKNOWN
    names = {v.expression for v in verdicts}
    # The vague "BSD" classifier beside a precise BSD id names the same license; show the precise one.
    if "BSD" in names and any(n.startswith("BSD-") for n in names):
        names.discard("BSD")
    return License(_conjunction(names), all(v.allowed for v in verdicts), "License/Classifier")


def from_package_json(text: str) -> License:
    """Verdict from an npm package.json (`license` string or object, or legacy `licenses` list)."""
    try:
        data = json.loads(text)
    except ValueError:
        return UNKNOWN
    if not isinstance(data, dict):
        return UNKNOWN
    value = data.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if isinstance(value, str):
        if value.upper().startswith("SEE LICENSE"):
            return License(value, False, "package.json")
        return evaluate_expression(value, "package.json")
    legacy = data.get("licenses")
    if isinstance(legacy, list) and legacy:
        names = [e.get("type") if isinstance(e, dict) else e for e in legacy]
        if all(isinstance(n, str) for n in names):
            return evaluate_expression(" OR ".join(names), "package.json")  # legacy lists meant a choice
    return UNKNOWN


def from_cargo_toml(text: str) -> License:
    """Verdict from a crate's Cargo.toml `package.license` (a `license-file` alone is unknown)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return UNKNOWN
    value = data.get("package", {}).get("license")
    return evaluate_expression(value, "Cargo.toml") if isinstance(value, str) else UNKNOWN


@dataclass(frozen=True, slots=True)
class CopyrightRule:
    """One `Files:` paragraph of a DEP-5 copyright file: glob patterns and their license."""

    patterns: tuple[str, ...]
    license: License

    def matches(self, path: str) -> bool:
        return any(_glob_regex(pattern).fullmatch(path) for pattern in self.patterns)

    def matches_loosely(self, path: str) -> bool:
        """Matches the path or any tail of it (for when the source root of an installed file is unsure)."""
        parts = path.split("/")
        return any(self.matches("/".join(parts[i:])) for i in range(len(parts)))


def _glob_regex(pattern: str) -> re.Pattern[str]:
    # DEP-5 globs: `*` matches any run of characters including "/", `?` exactly one.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def debian_copyright_rules(text: str) -> list[CopyrightRule] | None:
    """The `Files:` paragraphs of a machine-readable copyright file (None when it is not DEP-5)."""
    if not text.lstrip().lower().startswith("format:"):
        return None
    rules: list[CopyrightRule] = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields = _deb822_fields(paragraph)
        files = fields.get("files")
        lic = fields.get("license", "").split("\n", 1)[0].strip()
        if files is None or not lic:
            continue
        expression = lic.replace(" or ", " OR ").replace(" and ", " AND ")
        rules.append(CopyrightRule(tuple(files.split()), evaluate_expression(expression, "copyright")))
    return rules


def license_for_path(rules: list[CopyrightRule], path: str) -> License:
    """License of one source file under DEP-5 rules: the last paragraph whose pattern matches wins.

    A specific (non-`*`) paragraph with a license that is not allowed vetoes the file when it matches
    any tail of the path, so an unsure source root can only drop files, never admit them.
    """
    verdict = UNKNOWN
    for rule in rules:
        if rule.matches(path):
            verdict = rule.license
    for rule in rules:
        if not rule.license.allowed and rule.patterns != ("*",) and rule.matches_loosely(path):
            return rule.license
    return verdict


def from_debian_copyright(text: str) -> License:
    """Package-wide verdict from a machine-readable Debian copyright file (DEP-5).

    Every `Files:` paragraph except those covering only `debian/*` must carry an allowed `License:`;
    a file that is not machine-readable is unknown. See `license_for_path` for the per-file verdict.
    """
    rules = debian_copyright_rules(text)
    if not rules:
        return UNKNOWN
    verdicts = [r.license for r in rules if not all(p.startswith("debian/") for p in r.patterns)]
    if not verdicts:
        return UNKNOWN
    return License(
        _conjunction({v.expression for v in verdicts}), all(v.allowed for v in verdicts), "copyright"
    )


def _conjunction(expressions: set[str]) -> str:
    """Several licenses that all apply, as one SPDX expression (compound parts parenthesised)."""
    if len(expressions) == 1:
        return next(iter(expressions))
    parts = [f"({e})" if " " in e and not e.startswith("(") else e for e in sorted(expressions)]
    return " AND ".join(parts)


def _deb822_fields(paragraph: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in paragraph.splitlines():
        if line[:1] in {" ", "\t"} and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields
