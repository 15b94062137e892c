"""Bad configs: one line naming the key and the allowed values, non-zero exit, nothing written."""

import os
import subprocess

import pytest
import yaml
from conftest import BIN, ROOT, snakemake

from prunelab.cli.commands import main

TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())


def _set(path, value):
    def edit(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _delete(path):
    def edit(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


def _best_epoch_without_validation(config):
    config["dense"]["lenet"]["dataset"]["validation"] = 0
    config["figures"]["acc"]["metric"] = "best_test_acc"


def _prune_at_best_without_validation(config):
    config["dense"]["lenet"]["dataset"]["validation"] = 0
    config["dense"]["lenet"]["train"]["save_at"] = ["best"]
    config["pruning"]["magnitude"]["at"] = "best"


def _rewind_case(config):
    config["branches"]["rewind"] = {"type": "rewind_weights", "rewind": "1ep"}
    config["experiments"]["oneshot"]["branches"] = ["rewind"]


CASES = [
    (
        "sparsity at 1",
        _set(["experiments", "oneshot", "sparsities"], [0.5, 1.0]),
        "key experiments.oneshot.sparsities[1]: 1.0 is greater than or equal to the maximum of 1",
    ),
    (
        "negative sparsity",
        _set(["experiments", "oneshot", "sparsities"], [-0.1]),
        "key experiments.oneshot.sparsities[0]: -0.1 is less than the minimum of 0",
    ),
    (
        "unknown dataset",
        _set(["dense", "lenet", "dataset", "name"], "places365"),
        "key dense.lenet.dataset.name: 'places365' is not one of ['digits', 'mnist'",
    ),
    (
        "unknown model",
        _set(["dense", "lenet", "model", "name"], "resnet152"),
        "key dense.lenet.model.name: 'resnet152' is not one of",
    ),
    (
        "epochs as text",
        _set(["dense", "lenet", "train", "epochs"], "ten"),
        "key dense.lenet.train.epochs: 'ten' is not of type 'number'",
    ),
    (
        "yaml 1e-4",
        _set(["dense", "lenet", "train", "weight_decay"], "1e-4"),
        "key dense.lenet.train.weight_decay: '1e-4' is not of type 'number' (YAML 1.1 reads 1e-4 as text; write it "
        "with a decimal point, e.g. 1.0e-4)",
    ),
    (
        "quoted sparsity",
        _set(["experiments", "oneshot", "sparsities"], ["0.95"]),
        "key experiments.oneshot.sparsities[0]: '0.95' is not of type 'number' (the value is the quoted string "
        "'0.95'; remove the quotes to make it a number)",
    ),
    (
        "unknown train key",
        _set(["dense", "lenet", "train", "learning_rate"], 0.1),
        "key dense.lenet.train: Additional properties are not allowed ('learning_rate' was unexpected)",
    ),
    (
        "unknown method",
        _set(["pruning", "magnitude", "method"], "magnitood"),
        "key pruning.magnitude.method: method 'magnitood' is unknown (allowed:",
    ),
    (
        "unknown hparam",
        _set(["pruning", "magnitude", "hparams"], {"alpha": 1}),
        "key pruning.magnitude.hparams: Additional properties are not allowed ('alpha' was unexpected) "
        "(allowed: propagate) "
        "(method 'magnitude')",
    ),
    (
        "undefined pruning",
        _set(["experiments", "oneshot", "pruning"], ["snip"]),
        "key experiments.oneshot.pruning: 'snip' is not defined under pruning (defined: magnitude, random)",
    ),
    (
        "undefined dense",
        _set(["experiments", "oneshot", "dense"], ["vgg"]),
        "key experiments.oneshot.dense: 'vgg' is not defined under dense",
    ),
    (
        "unknown branch type",
        _set(["branches", "finetune", "type"], "retrain"),
        "key branches.finetune.type: 'retrain' is not a branch type (known: finetune, lottery, reinit, rewind_lr, "
        "rewind_weights, scratch_b, scratch_e)",
    ),
    (
        "IMP rate 0",
        _set(["experiments", "imp"], {"dense": ["lenet"], "iterative": {"rate": 0, "levels": 2, "branch": "finetune"}}),
        "key experiments.imp.iterative.rate: 0 is less than or equal to the minimum of 0",
    ),
    (
        "rewind point not saved",
        _rewind_case,
        "key branches.rewind.rewind: needs the checkpoint at '1ep', which dense 'lenet' does not save; "
        "add '1ep' to dense.lenet.train.save_at",
    ),
    (
        "negative learning rate",
        _set(["dense", "lenet", "train", "lr"], -0.1),
        "key dense.lenet.train.lr: -0.1 is less than or equal to the minimum of 0",
    ),
    ("missing dense section", _delete(["dense"]), "key (top level): 'dense' is a required property"),
    (
        "bad training point",
        _set(["dense", "lenet", "train", "save_at"], ["3 epochs"]),
        "key dense.lenet.train.save_at[0]",
    ),
    (
        "rewind past the end",
        _set(["branches", "finetune"], {"type": "rewind_weights", "rewind": "3ep"}),
        "key branches.finetune.rewind: '3ep' (iteration 33) is past the end of dense 'lenet' training (22 iterations)",
    ),
    (
        "prune at an iteration past the end",
        _set(["pruning", "magnitude", "at"], "500it"),
        "key pruning.magnitude.at: '500it' (iteration 500) is past the end of dense 'lenet' training (22 iterations)",
    ),
    (
        "prune at the best epoch that is not saved",
        _set(["pruning", "magnitude", "at"], "best"),
        "key pruning.magnitude.at: needs the checkpoint at 'best', which dense 'lenet' does not save; "
        "add 'best' to dense.lenet.train.save_at",
    ),
    (
        "prune at the best epoch without validation",
        _prune_at_best_without_validation,
        "key pruning.magnitude.at: 'best' is the best-validation epoch, but dense 'lenet' holds out no validation "
        "split (set dense.lenet.dataset.validation)",
    ),
    (
        "scoring examples zero",
        _set(["pruning", "random", "scoring"], {"examples": 0}),
        "key pruning.random.scoring.examples: 0 is less than the minimum of 1",
    ),
    (
        "figure of unknown experiment",
        _set(["figures", "acc", "experiments"], ["nope"]),
        "key figures.acc.experiments: 'nope' is not an experiment (defined: oneshot)",
    ),
    (
        "best epoch without validation",
        _best_epoch_without_validation,
        "key figures.acc.metric: best_test_acc needs a validation split, but dense.lenet.dataset.validation is 0 "
        "(experiment 'oneshot'); set it, or plot test_acc",
    ),
    (
        "DDP with seed groups",
        _set(["runtime"], {"group_seeds": True, "processes": 2}),
        "key runtime.processes: 1 was expected: seed groups (runtime.group_seeds) train in one process",
    ),
    (
        "negative hparam",
        _set(["pruning", "magnitude"], {"method": "lm", "hparams": {"lambda": -1}}),
        "key pruning.magnitude.hparams.lambda: -1 is less than the minimum of 0 (method 'lm')",
    ),
    (
        "unknown figure type",
        _set(["figures", "acc", "type"], "table_one"),
        "key figures.acc.type: 'table_one' is unknown (allowed: accuracy_vs_sparsity, dyniso_finetune_lr, dyniso_jsv",
    ),
    (
        "bad figure option",
        _set(["figures", "acc", "options"], {"stages": ["pruned", "dense"]}),
        "key figures.acc.options.stages[1]: 'dense' is not one of ['pruned', 'branch'] "
        "(figure type accuracy_vs_sparsity)",
    ),
]


def bad_config(tmp_path, edit):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    edit(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("name,edit,expected", CASES, ids=[c[0] for c in CASES])
def test_cli_reports_one_line(tmp_path, capsys, name, edit, expected):
    path = bad_config(tmp_path, edit)
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert lines[0].startswith(f"prunelab: {path}: key "), lines[0]  # always the file, then the key


@pytest.mark.parametrize("case", [0, 2, 10, 14, -2])
def test_snakemake_stops_before_any_job_and_writes_nothing(tmp_path, case):
    name, edit, expected = CASES[case]
    path = bad_config(tmp_path, edit)
    proc = snakemake(tmp_path, "--configfile", str(path), "--cores", "1", check=False)
    assert proc.returncode != 0
    assert f"{path}: {expected}" in proc.stdout + proc.stderr  # the file, then the key
    assert not (tmp_path / "results").exists()


def test_missing_real_dataset_stops_the_workflow_before_any_job(tmp_path):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    config["dense"]["lenet"]["dataset"] = {"name": "cifar10", "validation": 5000}
    config["data_root"] = str(tmp_path / "datasets")
    path = tmp_path / "cifar.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "--configfile", str(path), "--cores", "1", check=False)
    assert proc.returncode != 0
    assert f"dataset 'cifar10' not found: {tmp_path}/datasets/cifar-10-batches-py lacks data_batch_1" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_missing_config_file_and_broken_yaml(tmp_path):
    proc = subprocess.run(
        [str(BIN / "prunelab"), "validate", str(tmp_path / "none.yaml")], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "config file not found" in proc.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("dense: [unclosed\n")
    proc = subprocess.run([str(BIN / "prunelab"), "validate", str(broken)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_help_has_no_markup_and_every_command_and_option_says_what_it_is(capsys):
    from prunelab.cli.commands import build_parser

    parser = build_parser()
    assert "``" not in parser.format_help() and "prunelab command line" in parser.format_help()
    subparsers = next(a for a in parser._actions if a.choices and "audit" in a.choices).choices
    for name, sub in subparsers.items():
        for action in sub._actions:
            assert "``" not in (action.help or "")
            assert action.help, f"prunelab {name} {'/'.join(action.option_strings) or action.dest} has no help"
        assert sub.description and "\n" not in sub.description, f"prunelab {name} has no one-line description"
    # only the jobs that train take the training options (checkpoints, DDP ranks, compile, divergence policy)
    training = {"--checkpoint-every", "--keep-train-state", "--on-divergence", "--processes", "--compile"}
    for name in subparsers:
        options = {o for action in subparsers[name]._actions for o in action.option_strings}
        assert (training <= options) == (name in ("train", "branch", "train-group")), name
        assert not (training & options) or training <= options, name


@pytest.mark.parametrize("command", [["methods"], ["plan", str(ROOT / "config.yaml")]])
def test_output_into_a_closed_pipe_ends_quietly(command):
    """`prunelab plan config.yaml | head`: the reader leaves early; no traceback, status 141 like a shell's."""
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the first line: every write meets a broken pipe
    with os.fdopen(writer, "wb") as out:
        proc = subprocess.run([str(BIN / "prunelab"), *command], stdout=out, stderr=subprocess.PIPE, text=True)
    assert proc.stderr == "" and proc.returncode == 141
