"""What Snakemake prints per job, through prunelab.cli.console's filter: long file lists cut to a few names and a
count, no ``message: None``, and no error reports of jobs that Ctrl-C stopped."""

import logging

import pytest

from prunelab.cli import console

FILES = [f"results/runs/dense/{i:016x}/metrics.json" for i in range(1700)]


def record(event: str, msg: str = "text", **fields) -> logging.LogRecord:
    rec = logging.LogRecord("snakemake.logging", logging.INFO, __file__, 1, msg, None, None)
    rec.event = event
    rec.__dict__.update(fields)
    return rec


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(console, "_interrupted", [])
    return console.ShortFileLists()


def test_long_file_lists_and_reasons_show_a_few_names_and_a_count(fresh):
    rec = record(
        "job_info",
        input=list(FILES),
        output=FILES[:2],
        reason=f"Missing output files: results/audit/demo.txt; Input files updated by another job: {', '.join(FILES)}",
    )
    assert fresh.filter(rec)
    assert rec.input == [*FILES[:3], "... 1697 more"] and rec.output == FILES[:2]
    assert rec.reason == (
        "Missing output files: results/audit/demo.txt; Input files updated by another job: "
        f"{FILES[0]}, {FILES[1]}, {FILES[2]}, ... 1697 more"
    )
    assert len(rec.reason) < 250


def test_job_errors_lose_message_none_and_vanish_after_ctrl_c(fresh):
    error = record("job_error", msg="Error in rule train, jobid: 4", rule_msg=None, input=[], output=FILES[:1])
    assert fresh.filter(error) and error.msg == ""  # Snakemake prints "message: None" for any text here
    kept = record("job_error", msg="Error in rule train, jobid: 4", rule_msg="training lenet")
    assert fresh.filter(kept) and kept.msg
    console._interrupted.append(True)
    assert not fresh.filter(record("job_error", rule_msg=None))
    assert not fresh.filter(record(None, msg="RuleException:\nCalledProcessError in file train.smk"))
    assert fresh.filter(record(None, msg="Terminating processes on user request"))  # other lines stay
