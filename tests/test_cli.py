import subprocess
import sys
from pathlib import Path

from workbench.cli import main

SCRIPT = Path(sys.executable).parent / "workbench"


def test_console_script_help_lists_the_commands():
    out = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    for command in ("world", "data", "gtpair", "train", "generate", "eval", "report", "env"):
        assert command in out.stdout
    assert "--home" in out.stdout and "--json" in out.stdout


def test_home_flag_and_env_both_choose_the_store(tmp_path, home, capsys):
    other = tmp_path / "other"
    assert main(["--home", str(other), "world", "make", "--n", "2"]) == 0
    assert (other / "workbench.duckdb").is_file() and not home.exists()
    assert main(["world", "make", "--n", "1"]) == 0
    assert (home / "workbench.duckdb").is_file()


def test_sheet_and_env_commands(home, tmp_path, capsys):
    assert main(["world", "make", "--n", "4"]) == 0
    out = tmp_path / "sheet.png"
    assert main(["data", "sheet", "--n", "3", "--out", str(out)]) == 0 and out.is_file()
    assert main(["--json", "env"]) == 0
    assert '"duckdb"' in capsys.readouterr().out


def test_user_errors_are_one_line_and_nonzero(home, capsys):
    assert main(["data", "sheet", "--dataset", "shapse"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown dataset 'shapse'") and "\n" not in err
    assert main(["world", "make", "--n", "2", "--motions", "sideways"]) == 1
    assert "sideways" in capsys.readouterr().err


def test_train_flags_and_trainconfig_are_one_config():
    """Every TrainConfig field is a `workbench train` flag (but the few the CLI leaves to
    Wan's and the paper's defaults), and a run given no flags gets TrainConfig()'s values."""
    import dataclasses

    from training.config import TrainConfig
    from workbench.cli import build_parser
    from workbench.cli.train import NOT_FLAGS, train_config

    args = build_parser().parse_args(["train", "--name", "x"])
    assert train_config(args) == TrainConfig()
    flags = set(vars(args)) | {"r", "lora"}  # --r dgr|number, --full
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields - flags == set(NOT_FLAGS)
    given = build_parser().parse_args(
        ["train", "--name", "x", "--beta", "50", "--r", "0.5", "--full", "--tiny-patch", "1,2,2"]
    )
    cfg = train_config(given)
    assert (cfg.beta, cfg.r, cfg.lora, cfg.tiny_patch) == (50.0, 0.5, False, (1, 2, 2))
