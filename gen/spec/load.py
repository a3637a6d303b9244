"""Stage 1: every spec file under a directory, YAML or Jsonnet, read into documents."""
from __future__ import annotations

from pathlib import Path

from gen.errors import ObsgenError, Problem
from gen.spec.documents import SPEC_SUFFIXES, Document, display_name, load_file
from gen.spec.jsonnet import JsonnetSettings, load_jsonnet


def spec_files(spec_dir: Path) -> list[Path]:
    """Spec files under `spec_dir`, in a stable order independent of the file system."""
    found = [p for p in spec_dir.rglob("*") if p.is_file() and p.suffix in SPEC_SUFFIXES]
    return sorted(found, key=lambda p: p.relative_to(spec_dir).as_posix())



def load_specs(spec_dir: Path, base: Path, jsonnet: JsonnetSettings | None = None) -> list[Document]:
    """All documents of all spec files; collects every file's problems before failing."""
    name = display_name(spec_dir, base)
    if spec_dir.exists() and not spec_dir.is_dir():
        raise ObsgenError([Problem(name, "is a file, not a directory of specs", hint="pass --specs DIR")])
    if not spec_dir.is_dir():
        raise ObsgenError([Problem(name, "spec directory not found",
                                   hint="run obsgen at the repository root or pass --specs DIR")])
    files = spec_files(spec_dir)
    if not files:
        # Compiling nothing would remove every generated file: far more likely a wrong --specs than intended.
        raise ObsgenError([Problem(name, f"no spec files (*{', *'.join(SPEC_SUFFIXES)}) found",
                                   hint="pass the directory that holds the specs with --specs DIR")])
    documents: list[Document] = []
    problems: list[Problem] = []
    for path in files:
        try:
            source = f"{spec_dir.resolve().name}/{path.relative_to(spec_dir).as_posix()}"
            if path.suffix == ".jsonnet":
                documents.extend(load_jsonnet(path, display_name(path, base), source, spec_dir, base,
                                              jsonnet or JsonnetSettings()))
            else:
                documents.extend(load_file(path, display_name(path, base), source))
        except ObsgenError as err:
            problems.extend(err.problems)
    if problems:
        raise ObsgenError(problems)
    return documents
