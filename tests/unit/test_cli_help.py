"""Every sub-command's --help describes the command and each of its options."""

from __future__ import annotations

import argparse

import pytest

from lakehouse.cli import build_parser, main


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_the_commands_the_readme_names_exist():
    assert {"db", "generate", "ingest", "publish", "marts", "report", "entity", "demo", "clean"} <= set(_subcommands())


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_each_subcommand_has_a_description_and_help_on_every_option(name):
    parser = _subcommands()[name]
    assert parser.description and len(parser.description) > 30, name
    undocumented = [a.dest for a in parser._actions
                    if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert not undocumented, f"lakehouse {name}: options without help: {undocumented}"


def test_top_level_summary_lists_every_command_with_its_help():
    summary = build_parser().format_help()
    for name in _subcommands():
        assert name in summary, name
    assert "LAKEHOUSE_LOG_LEVEL=DEBUG" in summary


@pytest.mark.parametrize("name", ["report", "entity", "marts"])
def test_help_prints_and_exits_cleanly(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: lakehouse {name}")
    assert _subcommands()[name].description.split()[0] in out
