"""The maintain benchmark program refuses bad input before starting Spark (its figures are
in docs/pipeline.md; running it takes minutes, so the suite does not)."""

from __future__ import annotations

from types import ModuleType

import pytest
from benchmark_programs import load_benchmark


def _bench() -> ModuleType:
    return load_benchmark("maintain_bench")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parallelism", "8"], "--parallelism '8': give two or more positive integers, baseline first"),
        (["--parallelism", "10000,0"], "--parallelism '10000,0': give two or more positive integers"),
        (["--layers", "gold,platinum"], "--layers 'gold,platinum': choose from bronze, silver, gold"),
        (["--records", "-5"], "--records"),
        (["--repeats", "0"], "--repeats 0: must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _bench().main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("maintain_bench: error: ") and message in err[0]
