"""Collect a compilation's source units (following imports) and make the builtins visible in them.

Source unit names follow solc's rules: an import path starting with `./` or `../` is relative to the
importing unit's directory, any other path is a unit name itself, after Foundry-style remappings
(`remappings.txt`, `[context:]prefix=target`, the longest matching context then prefix wins; solc is
given the same remappings so both agree on every unit name). Unit names map to files under the base
path, then each include path, then each `node_modules` directory found walking up from the main
source's directory (as Hardhat and Foundry resolve `@openzeppelin/...`); names under `aievm/` are this
package's Solidity files (`aievm/AI.sol`, `aievm/builtins.sol`). An import that resolves to no file is
left to solc, which reports it with its usual "Source not found" error at the import statement.

The builtins are made visible by appending one import line after a unit's last line, so the line and
column of everything the user wrote stay the same in diagnostics.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from solidity_patch.errors import CompilerError

PACKAGE_PREFIX = "aievm/"
BUILTINS_UNIT = "aievm/builtins.sol"
BUILTIN_NAMES = ("infer", "modelinfo")
PACKAGE_DIR = Path(__file__).resolve().parent

_COMMENT_OR_STRING = re.compile(r'("(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\')|//[^\n]*|/\*.*?\*/', re.DOTALL)
_IMPORT = re.compile(r"\bimport\b[^;\"']*?[\"']([^\"']+)[\"'][^;]*;")


def strip_comments(source: str) -> str:
    """`source` without comments (string literals kept)."""
    return _COMMENT_OR_STRING.sub(lambda m: m.group(1) or " ", source)


def import_paths(source: str) -> list[str]:
    """The paths of the `import` directives of `source`, in order."""
    return _IMPORT.findall(strip_comments(source))


@dataclass(frozen=True)
class Remapping:
    """One solc remapping: in units whose name starts with `context`, `prefix...` means `target...`."""

    context: str
    prefix: str
    target: str

    def __str__(self) -> str:
        mapping = f"{self.prefix}={self.target}"
        return f"{self.context}:{mapping}" if self.context else mapping


REMAPPINGS_FILE = "remappings.txt"


def read_remappings(source_dir: Path, base_path: Path) -> tuple[Remapping, ...]:
    """The remappings of the first `remappings.txt` found walking up from `source_dir` (Foundry's
    format: one `[context:]prefix=target` a line, `#` comments); targets are made relative to
    `base_path`, since solc applies them to unit names. CompilerError names a malformed line."""
    for directory in (source_dir, *source_dir.parents):
        file = directory / REMAPPINGS_FILE
        if file.is_file():
            break
    else:
        return ()
    remappings = []
    for number, line in enumerate(read_text(file).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        head, sep, target = line.partition("=")
        context, _, prefix = head.rpartition(":")
        if not sep or not prefix or not target:
            raise CompilerError(f"{file}:{number}: expected [context:]prefix=target, got {line!r}")
        target_path = (directory / target).resolve()
        try:
            relative = target_path.relative_to(base_path.resolve()).as_posix()
        except ValueError:
            relative = target_path.as_posix()
        if target.endswith("/") and not relative.endswith("/"):
            relative += "/"
        remappings.append(Remapping(context, prefix, relative))
    return tuple(remappings)


def node_modules_dirs(source_dir: Path) -> tuple[Path, ...]:
    """Every `node_modules` directory in `source_dir` and its ancestors, nearest first."""
    candidates = (d / "node_modules" for d in (source_dir, *source_dir.parents))
    return tuple(d for d in candidates if d.is_dir())


def resolve_unit_name(importer: str, path: str, remappings: tuple[Remapping, ...] = ()) -> str:
    """The source unit name that `import "path"` in unit `importer` refers to (solc's rules)."""
    if path.startswith(("./", "../")):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), path))
    matching = [r for r in remappings if importer.startswith(r.context) and path.startswith(r.prefix)]
    if matching:
        best = max(matching, key=lambda r: (len(r.context), len(r.prefix)))
        return best.target + path[len(best.prefix) :]
    return path


def read_unit(name: str, base_path: Path, include_paths: tuple[Path, ...] = ()) -> str | None:
    """The content of unit `name`, or None if no file backs it (`aievm/` names: this package's files)."""
    if name.startswith(PACKAGE_PREFIX):
        path = (PACKAGE_DIR / name[len(PACKAGE_PREFIX) :]).resolve()
        candidates = [path] if path.parent == PACKAGE_DIR and path.suffix == ".sol" else []
    else:
        candidates = (
            [Path(name)] if Path(name).is_absolute() else [r / name for r in (base_path, *include_paths)]
        )
    for path in candidates:
        if path.is_file():
            return read_text(path)
    return None


def read_text(path: Path) -> str:
    """A source file's text; CompilerError if it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CompilerError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise CompilerError(f"{path} is not UTF-8 text") from None


def collect_sources(
    main_name: str,
    main_source: str,
    base_path: Path,
    include_paths: tuple[Path, ...] = (),
    remappings: tuple[Remapping, ...] = (),
) -> dict[str, str]:
    """All units reachable from the main unit through imports: unit name -> content."""
    sources = {main_name: main_source}
    pending = [main_name]
    while pending:
        importer = pending.pop()
        for path in import_paths(sources[importer]):
            name = resolve_unit_name(importer, path, remappings)
            if name in sources:
                continue
            content = read_unit(name, base_path, include_paths)
            if content is not None:
                sources[name] = content
                pending.append(name)
    return sources


def _declares_free_function(code: str, name: str) -> bool:
    """Whether comment-free `code` declares a file-level function `name` (members only shadow it)."""
    return any(
        code.count("{", 0, m.start()) == code.count("}", 0, m.start())
        for m in re.finditer(rf"\bfunction\s+{name}\b", code)
    )


def with_builtins(sources: dict[str, str]) -> dict[str, str]:
    """`sources` where each unit that calls a builtin imports it (one appended line), unless the unit
    declares a free function of that name itself (then its own is used)."""
    out = dict(sources)
    for name, content in sources.items():
        if name == BUILTINS_UNIT:
            continue
        code = strip_comments(content)
        used = [
            b
            for b in BUILTIN_NAMES
            if re.search(rf"\b{b}\s*\(", code) and not _declares_free_function(code, b)
        ]
        if used:
            newline = "" if content.endswith("\n") or not content else "\n"
            out[name] = f'{content}{newline}import {{{", ".join(used)}}} from "{BUILTINS_UNIT}";\n'
    if out != sources:
        out[BUILTINS_UNIT] = (PACKAGE_DIR / "builtins.sol").read_text(encoding="utf-8")
    return out
