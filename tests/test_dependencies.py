"""The locks pin everything with hashes, and requirements-licences.md keeps up with them.

requirements-licences.md records the licence of every package the two locks pin. These
tests fail when a lock changes and the record does not (a package missing, gone, or at
another version), when the record disagrees with what an installed package declares in its
own metadata, and when a runtime package is under the GPL or the AGPL, which would bind the
licence of the project itself.
"""

import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"
RECORD = ROOT / "requirements-licences.md"
RUNTIME_HEADING = "## Runtime: requirements.txt"
DEV_HEADING = "## Tests, checks and benchmarks: requirements-dev.txt"
BY_HAND = "By hand:"  # a note that says where a licence was read when the metadata names none

BSD = frozenset({"0BSD", "BSD-2-Clause", "BSD-3-Clause"})
# A trove classifier names a licence family at best: each maps to the SPDX ids it can mean.
CLASSIFIERS = {
    "MIT License": {"MIT"},
    "MIT No Attribution License (MIT-0)": {"MIT-0"},
    "BSD License": BSD,
    "Apache Software License": {"Apache-2.0"},
    "ISC License (ISCL)": {"ISC"},
    "Python Software Foundation License": {"PSF-2.0"},
    "Mozilla Public License 2.0 (MPL 2.0)": {"MPL-2.0"},
    "Zope Public License": {"ZPL-2.1"},
    "The Unlicense (Unlicense)": {"Unlicense"},
    "GNU Lesser General Public License v3 (LGPLv3)": {"LGPL-3.0-only", "LGPL-3.0-or-later"},
    "GNU Lesser General Public License v3 or later (LGPLv3+)": {"LGPL-3.0-or-later"},
    "GNU General Public License v2 (GPLv2)": {"GPL-2.0-only", "GPL-2.0-or-later"},
    "GNU General Public License v3 (GPLv3)": {"GPL-3.0-only", "GPL-3.0-or-later"},
    "GNU Affero General Public License v3": {"AGPL-3.0-only", "AGPL-3.0-or-later"},
}
# Classifiers that say something about a licence but name none.
NOT_A_LICENCE = {"OSI Approved", "DFSG approved"}
# Short License fields that are not SPDX ids.
FIELD_ALIASES = {
    "BSD": BSD,
    "MIT License": {"MIT"},
    "Apache 2": {"Apache-2.0"},
    "Apache 2.0": {"Apache-2.0"},
    "Apache License 2.0": {"Apache-2.0"},
    "Apache License, Version 2.0": {"Apache-2.0"},
}
SPDX_ID = re.compile(r"(LicenseRef-)?[A-Za-z0-9][A-Za-z0-9.+-]*")


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    applies_here: bool  # its environment marker holds on this interpreter and platform
    problems: tuple[str, ...]  # what keeps the line from being an exact, hashed pin


def read_lock(path: Path) -> list[Pin]:
    """Each requirement of a lock, with what is wrong with it as a pin."""
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
        else:
            logical.append(pending + line)
            pending = ""
    assert not pending, f"{path.name} ends inside a continued line"
    pins = []
    for line in logical:
        requirement_text, _, options = line.partition(" --")
        requirement_text = requirement_text.strip()
        options = ("--" + options).split() if options else []
        problems = []
        if requirement_text.startswith("-"):
            pins.append(Pin(line, "", False, ("an option line, not a package: the lock must stand alone",)))
            continue
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as error:
            pins.append(Pin(requirement_text, "", False, (f"unreadable: {error}",)))
            continue
        specifiers = list(requirement.specifier)
        exact = len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version
        if not exact or requirement.url:
            problems.append(f"not pinned with == to one version ({requirement_text!r})")
        hashes = [option for option in options if option.startswith("--hash=")]
        if not hashes:
            problems.append("has no --hash")
        if any(not re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", option) for option in hashes):
            problems.append("has a hash that is not a sha256")
        if len(hashes) != len(options):
            problems.append(f"has options other than --hash: {options}")
        applies = requirement.marker is None or requirement.marker.evaluate(default_environment())
        version = specifiers[0].version if exact else ""
        pins.append(Pin(canonicalize_name(requirement.name), version, applies, tuple(problems)))
    return pins


@dataclass(frozen=True)
class Row:
    name: str  # canonical
    version: str
    licence: str
    note: str


def read_record(heading: str) -> list[Row]:
    """The table under one heading of requirements-licences.md."""
    lines = RECORD.read_text().splitlines()
    assert heading in lines, f"{RECORD.name} has no heading {heading!r}"
    rows = []
    for line in lines[lines.index(heading) + 1 :]:
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "Package" or set(cells[0]) <= set("-: "):
            continue
        assert len(cells) == 4, f"{RECORD.name}: a row needs package, version, licence and note: {line!r}"
        name, version, licence, note = cells
        rows.append(Row(canonicalize_name(name), version.strip("`"), licence.strip("`"), note))
    assert rows, f"{RECORD.name}: no rows under {heading!r}"
    return rows


def licence_ids(expression: str) -> set[str]:
    """The licence ids of an SPDX expression, without its operators and brackets."""
    words = expression.replace("(", " ").replace(")", " ").split()
    return {word for word in words if word not in {"AND", "OR", "WITH"}}


def normalised(expression: str) -> str:
    return " ".join(expression.replace("(", " ( ").replace(")", " ) ").split()).casefold()


def declared(name: str) -> tuple[str, object]:
    """What the installed package says of its licence, most precise first.

    ("expression", text) from License-Expression; ("families", [set of ids, ...]) from the
    licence classifiers or a short License field, each set the ids one of them can mean;
    ("vague", reason) when the metadata names no licence that can be compared.
    """
    metadata = importlib.metadata.metadata(name)
    expression = metadata.get("License-Expression")
    if expression:
        return "expression", expression
    classifiers = [
        classifier.split(" :: ")[-1]
        for classifier in metadata.get_all("Classifier") or []
        if classifier.startswith("License ::")
    ]
    families = []
    for classifier in classifiers:
        if classifier in NOT_A_LICENCE:
            continue
        assert classifier in CLASSIFIERS, f"{name}: licence classifier {classifier!r} is new to this test: map it"
        families.append(set(CLASSIFIERS[classifier]))
    if families:
        return "families", families
    field = (metadata.get("License") or "").strip()
    if field in FIELD_ALIASES:
        return "families", [set(FIELD_ALIASES[field])]
    if SPDX_ID.fullmatch(field):
        return "families", [{field}]
    return "vague", "no License-Expression, no licence classifier, and a License field that is no id"


def disagreement(row: Row) -> str | None:
    """Why the recorded licence contradicts the installed package's metadata, if it does."""
    kind, value = declared(row.name)
    if kind == "vague":
        if BY_HAND not in row.note:
            return f"the metadata names no licence ({value}): say where it was read, in a note with {BY_HAND!r}"
        return None
    if BY_HAND in row.note:
        return f"the metadata declares a licence ({value}): compare with it instead of a {BY_HAND!r} note"
    if kind == "expression":
        if normalised(row.licence) != normalised(value):
            return f"recorded {row.licence!r}, License-Expression says {value!r}"
        return None
    recorded = licence_ids(row.licence)
    unexplained = {id_ for id_ in recorded if not any(id_ in family for family in value)}
    unmatched = [sorted(family) for family in value if not family & recorded]
    if unexplained or unmatched:
        return f"recorded {row.licence!r}, the classifiers or License field say {[sorted(f) for f in value]}"
    return None


def check_record_against_lock(lock: list[Pin], rows: list[Row]) -> list[str]:
    problems = []
    locked = {(pin.name, pin.version) for pin in lock}
    recorded = [(row.name, row.version) for row in rows]
    for name, version in sorted(locked - set(recorded)):
        versions = [v for n, v in recorded if n == name]
        if versions:
            problems.append(f"{name}: locked at {version}, recorded at {', '.join(versions)}")
        else:
            problems.append(f"{name} {version}: locked but not recorded")
    for name, version in sorted(set(recorded) - locked):
        if not any(pin.name == name for pin in lock):
            problems.append(f"{name} {version}: recorded but no longer locked")
    duplicates = {entry for entry in recorded if recorded.count(entry) > 1}
    problems += [f"{name} {version}: recorded twice" for name, version in sorted(duplicates)]
    return problems


def check_metadata(lock: list[Pin], rows: list[Row]) -> list[str]:
    """Compare each recorded licence with the metadata of the package installed here."""
    here = {(pin.name, pin.version) for pin in lock if pin.applies_here}
    problems = []
    for row in rows:
        ids = licence_ids(row.licence)
        if not ids or not all(SPDX_ID.fullmatch(id_) for id_ in ids):
            problems.append(f"{row.name}: {row.licence!r} is not an SPDX expression")
            continue
        if (row.name, row.version) not in here:
            continue  # its marker excludes this platform (PyPy, Windows...): nothing installed to compare
        why = disagreement(row)
        if why:
            problems.append(f"{row.name} {row.version}: {why}")
    return problems


def test_every_lock_line_is_an_exact_pin_with_hashes():
    problems = [
        f"{path.name}: {pin.name}: {problem}"
        for path in (RUNTIME_LOCK, DEV_LOCK)
        for pin in read_lock(path)
        for problem in pin.problems
    ]
    assert not problems, "\n".join(problems)


def test_the_locks_hold_what_their_in_files_ask_for():
    problems = []
    for source, lock in ((ROOT / "requirements.in", RUNTIME_LOCK), (ROOT / "requirements-dev.in", DEV_LOCK)):
        pins = read_lock(lock)
        for raw in source.read_text().splitlines():
            line = re.sub(r"(^|\s)#.*", "", raw).strip()
            if not line or line.startswith("-"):
                continue
            wanted = Requirement(line)
            versions = [pin.version for pin in pins if pin.name == canonicalize_name(wanted.name)]
            if not any(wanted.specifier.contains(version, prereleases=True) for version in versions):
                problems.append(
                    f"{source.name} asks for {line!r}, {lock.name} has {versions or 'nothing'}: run make lock"
                )
    assert not problems, "\n".join(problems)


def test_the_two_locks_agree_on_the_packages_they_share():
    runtime = {pin.name: pin.version for pin in read_lock(RUNTIME_LOCK)}
    problems = [
        f"{pin.name}: {pin.version} in {DEV_LOCK.name}, {runtime[pin.name]} in {RUNTIME_LOCK.name}"
        for pin in read_lock(DEV_LOCK)
        if pin.name in runtime and pin.version != runtime[pin.name]
    ]
    assert not problems, "\n".join(problems)


def test_the_installed_packages_are_the_locked_ones():
    # The metadata compared below is that of the versions locked, not of whatever is installed.
    problems = []
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        for pin in read_lock(lock):
            if not pin.applies_here:
                continue
            try:
                installed = importlib.metadata.version(pin.name)
            except importlib.metadata.PackageNotFoundError:
                installed = "nothing"
            if installed != pin.version:
                problems.append(f"{pin.name}: {lock.name} locks {pin.version}, {installed} is installed")
    assert not problems, "\n".join(problems) + "\n(make test reinstalls from the locks when they change)"


def test_the_record_lists_every_runtime_package_at_its_locked_version():
    problems = check_record_against_lock(read_lock(RUNTIME_LOCK), read_record(RUNTIME_HEADING))
    assert not problems, "\n".join(problems)


def test_the_record_lists_every_package_only_the_dev_lock_has():
    runtime = {pin.name for pin in read_lock(RUNTIME_LOCK)}
    dev_only = [pin for pin in read_lock(DEV_LOCK) if pin.name not in runtime]
    problems = check_record_against_lock(dev_only, read_record(DEV_HEADING))
    assert not problems, "\n".join(problems)


def test_recorded_licences_agree_with_the_installed_packages_metadata():
    pins = read_lock(RUNTIME_LOCK) + read_lock(DEV_LOCK)
    problems = check_metadata(pins, read_record(RUNTIME_HEADING) + read_record(DEV_HEADING))
    assert not problems, "\n".join(problems)


def test_no_runtime_package_is_under_the_gpl_or_the_agpl():
    # The LGPL is fine for a library used as it is (psycopg); the GPL and the AGPL would make
    # the whole server theirs to license.
    problems = [
        f"{row.name} {row.version}: {row.licence}"
        for row in read_record(RUNTIME_HEADING)
        if any(re.match(r"A?GPL-", id_, flags=re.IGNORECASE) for id_ in licence_ids(row.licence))
    ]
    assert not problems, "GPL or AGPL at runtime:\n" + "\n".join(problems)
