"""Progress lines: at least one every 10 s of work in training, pruning (OBS included) and branches, driven by
a fake clock (each call is one second of 'work'), and a rewound branch saying where it rewound to."""

import pytest

from prunelab.config.validation import validate_config
from prunelab.data.tensors import load_dataset
from prunelab.jobs.kinds import run_branch, run_dense, run_prune
from prunelab.jobs.runtime import Runtime
from prunelab.models import build_model
from prunelab.plan.build import build_plan
from prunelab.progress import Progress, reporting, tick
from prunelab.pruning.multistep import run_method, scoring_batches
from prunelab.training.schedules import iterations_per_epoch
from prunelab.training.single_model import Trainer


class FakeClock:
    """Monotonic seconds that advance by ``step`` on every reading."""

    def __init__(self, step: float = 1.0):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class TimedLog:
    """Collects (fake time, line) pairs."""

    def __init__(self, clock: FakeClock):
        self.clock, self.lines = clock, []

    def __call__(self, line: str) -> None:
        self.lines.append((self.clock.now, line))

    def longest_silence(self) -> float:
        times = [0.0] + [t for t, _ in self.lines] + [self.clock.now]
        return max(b - a for a, b in zip(times, times[1:]))


def test_a_line_only_when_ten_seconds_passed_and_messages_are_formatted_only_then():
    clock = FakeClock(step=3.0)
    log = TimedLog(clock)
    progress = Progress("run", log, clock=clock)  # started at 3
    formatted = []

    def message():
        formatted.append(clock.now)
        return f"at {clock.now:g}"

    for _ in range(10):  # readings at 6, 9, ..., 33
        progress.tick(message)
    assert [line for _, line in log.lines] == ["[run] at 15 (12 s)", "[run] at 27 (24 s)"]
    assert formatted == [15.0, 27.0]
    progress.logged()  # another line at 36: the next is due at 46 or later
    for _ in range(3):  # 39, 42, 45
        progress.tick("x")
    assert len(log.lines) == 2
    progress.tick("x")  # 48
    assert log.lines[-1] == (48.0, "[run] x (45 s)")


def test_tick_reaches_only_the_reporter_of_the_enclosing_job():
    clock = FakeClock(step=20.0)
    log = TimedLog(clock)
    tick("outside any job")  # no reporter: nothing, no error
    with reporting(Progress("job", log, clock=clock)):
        tick("inside")
    tick("after")
    assert [line for _, line in log.lines] == ["[job] inside (20 s)"]


@pytest.fixture(scope="module")
def digits8():
    return load_dataset({"name": "digits", "size": 8, "channels": 1, "validation": 100})


def test_training_is_never_silent_for_more_than_ten_seconds_of_work(digits8):
    clock = FakeClock()
    log = TimedLog(clock)
    model = build_model({"name": "mlp", "widths": [16]}, digits8.input_shape, digits8.num_classes, seed=0)
    train = {
        "epochs": 2,
        "batch_size": 16,
        "lr": 0.05,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "schedule": {"name": "constant", "milestones": [], "gamma": 0.1, "min_lr": 0},
        "warmup_epochs": 0,
    }
    Trainer(model, digits8, train, data_seed=0, label="dense", clock=clock, log=log).run()
    progress = [line for _, line in log.lines if " loss " in line and "train_loss" not in line]
    assert len(progress) >= 10 and all(line.startswith("[dense] epoch ") for line in progress)
    assert log.longest_silence() <= 10 + clock.step


def test_obs_reports_its_one_at_a_time_removals(digits8):
    clock = FakeClock()
    log = TimedLog(clock)
    model = build_model({"name": "mlp", "widths": [8]}, digits8.input_shape, digits8.num_classes, seed=0)
    batches = scoring_batches(digits8, 32, 16, 0)
    with reporting(Progress("prune", log, clock=clock)):
        run_method(model, "obs", {}, 0.5, data=digits8, batches=batches)
    removals = [line for _, line in log.lines if "OBS: removed" in line]
    assert len(removals) >= 10 and removals[0].startswith("[prune] OBS: removed ")
    assert log.longest_silence() <= 10 + clock.step


def test_a_rewound_branch_logs_the_iteration_and_snapshot_it_starts_from(tmp_path, digits8):
    config = {
        "dense": {
            "mlp": {
                "dataset": {"name": "digits", "size": 8, "channels": 1, "validation": 100},
                "model": {"name": "mlp", "widths": [8]},
                "train": {"epochs": 1, "batch_size": 128, "lr": 0.05, "save_at": ["3it"]},
            }
        },
        "pruning": {"magnitude": {"method": "magnitude"}},
        "branches": {
            "rewind": {"type": "rewind_weights", "rewind": "3it", "optimizer_state": "rewind", "train": {"epochs": 1}}
        },
        "experiments": {
            "one": {"dense": ["mlp"], "pruning": ["magnitude"], "sparsities": [0.5], "branches": ["rewind"]}
        },
    }
    plan = build_plan(validate_config(config))
    rt = Runtime(results=tmp_path, device="cpu", threads=1)
    lines = []
    for kind, job in (("dense", run_dense), ("prune", run_prune), ("branch", run_branch)):
        for run_hash in plan.hashes(kind):
            job(plan.specs[run_hash], tmp_path / "runs" / kind / run_hash, rt, log=lines.append)
    dense = plan.hashes("dense")[0]
    epoch = 3 / iterations_per_epoch(len(digits8.train_y), 128)  # the same data spec as the dense run
    (start,) = [line for line in lines if " starts from " in line]
    assert start == (
        f"[{plan.hashes('branch')[0]}] rewind_weights starts from weights rewound to iteration 3 "
        f"(epoch {epoch:.3g}, 3it): the dense run's snapshot of iteration 3, with its optimizer state "
        f"of {tmp_path}/runs/dense/{dense}/snapshots.pt"
    )
