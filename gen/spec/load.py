"""Stage 1: every spec file under a directory, YAML or Jsonnet, read into documents."""
from __future__ import annotations

from pathlib import Path

from gen.errors import ObsgenError, Problem
from gen.spec.confine import Confinement, walk
from gen.spec.documents import SPEC_SUFFIXES, Document, display_name, load_file
from gen.spec.jsonnet import JsonnetSettings, load_jsonnet


def spec_files(spec_dir: Path, confinement: Confinement) -> tuple[list[Path], list[Problem]]:
    """Spec files under `spec_dir`, in a stable order independent of the file system, and a problem for each
    symlinked directory in it that leads out of the repository."""
    found, problems = walk(spec_dir, SPEC_SUFFIXES, confinement)
    return sorted(found, key=lambda p: p.relative_to(spec_dir).as_posix()), problems



def load_specs(spec_dir: Path, base: Path, jsonnet: JsonnetSettings | None = None) -> list[Document]:
    """All documents of all spec files; collects every file's problems before failing."""
    name = display_name(spec_dir, base)
    if spec_dir.exists() and not spec_dir.is_dir():
        raise ObsgenError([Problem(name, "is a file, not a directory of specs", hint="pass --specs DIR")])
    if not spec_dir.is_dir():
        raise ObsgenError([Problem(name, "spec directory not found",
                                   hint="run obsgen at the repository root or pass --specs DIR")])
    confinement = Confinement.for_input(spec_dir, base)
    confinement.check_directory(spec_dir)
    files, problems = spec_files(spec_dir, confinement)
    if not files and not problems:
        # Compiling nothing would remove every generated file: far more likely a wrong --specs than intended.
        raise ObsgenError([Problem(name, f"no spec files (*{', *'.join(SPEC_SUFFIXES)}) found",
                                   hint="pass the directory that holds the specs with --specs DIR")])
    documents: list[Document] = []
    for path in files:
        try:
            source = f"{spec_dir.resolve().name}/{path.relative_to(spec_dir).as_posix()}"
            if not source.isprintable():
                # The name lands in a comment of every generated file: a line break there would end the comment.
                raise ObsgenError([Problem(confinement.name(path), "the file name holds a control or invisible "
                                           "character", hint="rename the file")])
            if path.suffix == ".jsonnet":
                documents.extend(load_jsonnet(path, display_name(path, base), source, spec_dir, base,
                                              jsonnet or JsonnetSettings(), confinement))
            else:
                documents.extend(load_file(path, display_name(path, base), source, confinement))
        except ObsgenError as err:
            problems.extend(err.problems)
    if problems:
        raise ObsgenError(problems)
    return documents
