"""The declarative option tables (deployc.compiler.api.flags): argv and the args check derive from one table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deployc.compiler.api import ARGPARSE, CLAP, OptionTable, Parser, opt, owned


@dataclass
class Ctx:
    model: str
    tp: int = 1
    name: str | None = None
    remote: bool = False
    loras: tuple[str, ...] = ()
    frac: float = 0.9


@dataclass
class Ver:
    version: str


TABLE = OptionTable(ARGPARSE, [
    opt(None, "model.source", lambda c: c.model),
    opt("--served-model-name", "model.served_name", lambda c: c.name),
    opt("--trust-remote-code", "model.trust_remote_code", lambda c: c.remote),
    opt("--tensor-parallel-size", "parallelism.tensor", lambda c: c.tp, aliases=("-tp",)),
    opt("--lora-modules", "model.adapters", lambda c: list(c.loras)),
    opt("--gpu-memory-utilization", "hardware.memory_utilization", lambda c: c.frac),
    opt("--new-flag", "limits.max_model_len", lambda c: 1, when=lambda v: v.version >= "2"),
    owned("--api-key", "server.api_key_env"),
])


def test_argv_follows_the_table_order_and_skips_unset_rows():
    assert TABLE.argv(Ctx("m"), Ver("1")) == ["m", "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.9"]
    assert TABLE.argv(Ctx("./m", tp=4, name="x y", remote=True, loras=("a=1", "b=2"), frac=0.92), Ver("1")) == [
        "./m", "--served-model-name", "x y", "--trust-remote-code", "--tensor-parallel-size", "4",
        "--lora-modules", "a=1", "b=2", "--gpu-memory-utilization", "0.92"]


def test_rows_only_some_versions_have():
    assert "--new-flag" not in TABLE.argv(Ctx("m"), Ver("1"))
    assert TABLE.argv(Ctx("m"), Ver("2"))[-2:] == ["--new-flag", "1"]
    assert "--new-flag" not in TABLE.owners(Ver("1")) and "--new-flag" in TABLE.owners(Ver("2"))


def test_owned_rows_are_never_written_but_are_checked():
    assert "--api-key" not in TABLE.argv(Ctx("m"), Ver("1"))
    assert TABLE.owners(Ver("1"))["--api-key"] == ("server", "api_key_env")


@pytest.mark.parametrize("token, owner", [
    ("--tensor-parallel-size", "parallelism.tensor"),
    ("--tensor-parallel-size=2", "parallelism.tensor"),
    ("-tp", "parallelism.tensor"),
    ("-tp4", "parallelism.tensor"),            # argparse reads a glued short option
    ("--tensor-par", "parallelism.tensor"),     # and a unique prefix of a long one
    ("--api-key=x", "server.api_key_env"),
    ("--gpu", "hardware.memory_utilization"),
    ("--enable-prefix-caching", None),
    ("--te", None),                             # shorter than shortest_prefix (5): not read as a prefix
])
def test_conflicts_read_tokens_as_argparse_does(token, owner):
    found = TABLE.conflicts([token], Ver("1"), "t")
    assert [(d.code, d.message, d.path) for d in found] == ([(
        "target-args-conflict", f"{token.split('=')[0]} in targets.t.args restates {owner}, which deployc derives "
        "from the spec", ("targets", "t", "args", 0))] if owner else [])


def test_clap_matches_long_options_exactly():
    table = OptionTable(CLAP, [opt("--max-input-tokens", "limits.max_input_tokens", lambda c: 1)])
    assert table.conflicts(["--max-input"], Ver("1"), "t") == []
    assert len(table.conflicts(["--max-input-tokens=3"], Ver("1"), "t")) == 1


def test_underscores_and_negations_name_the_same_option():
    parser = Parser(underscores=True, negations=(("--no-", "--"), ("--disable-", "--enable-")))
    table = OptionTable(parser, [opt("--enable-lora", "model.adapters", lambda c: True),
                                 opt("--trust-remote-code", "model.trust_remote_code", lambda c: True)])
    for token in ("--enable_lora", "--disable-lora", "--no-trust-remote-code", "--trust_remote_code"):
        assert len(table.conflicts([token], Ver("1"), "t")) == 1, token


def test_stale_flags_get_their_replacement():
    [d] = TABLE.conflicts(["x", "--swap-space", "4"], Ver("1"), "t", stale={"--swap-space": "removed in 0.33"})
    assert (d.code, d.message, d.path) == ("target-args-stale", "--swap-space is not a flag of the pinned version: "
                                           "removed in 0.33", ("targets", "t", "args", 1))


def test_fixed_rows_are_written_but_owned_by_no_spec_setting():
    from deployc.compiler.api import fixed
    table = OptionTable(ARGPARSE, [opt("--workers", "parallelism.tensor", lambda c: c.tp),
                                   fixed("--gemm_plugin", "auto", why="the plugin"),
                                   fixed("--new", 1, why="new", when=lambda v: v.version >= "2")])
    assert table.argv(Ctx("m", tp=2), Ver("1")) == ["--workers", "2", "--gemm_plugin", "auto"]
    assert table.argv(Ctx("m"), Ver("2"))[-2:] == ["--new", "1"]
    assert table.owners(Ver("2")) == {"--workers": ("parallelism", "tensor")}
    assert table.conflicts(["--gemm_plugin", "float16"], Ver("1"), "t") == []


def test_a_list_of_tuples_repeats_the_flag_before_each():
    table = OptionTable(ARGPARSE, [opt("--lora-modules", "model.adapters", lambda c: [(n, f"./{n}") for n in c.loras])])
    assert table.argv(Ctx("m", loras=("a", "b")), Ver("1")) == [
        "--lora-modules", "a", "./a", "--lora-modules", "b", "./b"]
    assert table.argv(Ctx("m"), Ver("1")) == []


def test_click_and_pflag_match_long_options_exactly_and_read_glued_short_values():
    from deployc.compiler.api import CLICK, PFLAG, args_conflict
    for parser in (CLICK, PFLAG):
        table = OptionTable(parser, [opt("--quantize", "q", lambda c: "x", aliases=("-q",))])
        assert table.conflicts(["--quant", "--quantize_x"], Ver("1"), "t") == []
        assert [d.path for d in table.conflicts(["-qInt4", "--quantize=x"], Ver("1"), "t")] == [
            ("targets", "t", "args", 0), ("targets", "t", "args", 1)]
    [d] = TABLE.conflicts(["x", "-tp", "4"], Ver("1"), "t")
    assert d == args_conflict("-tp", ("parallelism", "tensor"), "t", 1)
