"""The project's error tree: every exception class gre_agent defines is a GreError.

Each line names a class, in brackets the builtin base it also keeps (callers and tests
catch it by that base), and the module under `gre_agent.` that defines it.

    GreError                                core.errors
    ├── ConfigError [ValueError]            core.errors
    ├── PromptError                         core.errors
    ├── AnswerParseError                    core.errors
    ├── ImageError                          core.images
    ├── TraceError [ValueError]             core.trace
    ├── ToolFailure                         core.errors
    ├── RetryAfterTooLong                   core.http
    ├── UnknownToolError [KeyError]         tools.registry
    ├── DumpError [ValueError]              tools.gazetteer._dump
    ├── ModelError                          agent.backends._errors
    ├── LocatabilityError                   agent._locatability_base
    │   └── ImageLoadError                  agent._locatability_base
    ├── GroundTruthError [ValueError]       agent.finetune.groundtruth
    ├── DatasetFormatError [ValueError]     evals.datasets._model
    ├── RowError                            evals.datasets._rows
    ├── ManifestError [ValueError]          evals._manifest
    └── ResultsError [RuntimeError]         evals._results

What each means:

    GreError            root of every error gre_agent raises on purpose
    ConfigError         bad settings, a training config that cannot be used (unknown key,
                        wrong type, missing value; `agent.finetune.config` re-exports it),
                        or bad or missing offline data
    PromptError         a prompt template is missing or lacks a value
    AnswerParseError    a model's answer holds no valid coordinates (the reason says which:
                        none found, or out of range); only `agent.parsing.parse_answer`
                        raises it: stage parsers never raise on model text
    ImageError          a file that cannot be used as a photo: missing, not an image,
                        corrupt, or too large
    TraceError          a trace file that cannot be read (no file, not JSON, no header,
                        another version, a line that fits no event)
    ToolFailure         a tool could not answer; carries an ErrorKind
    RetryAfterTooLong   a server asked to wait longer than `max_retry_after_s`; raised
                        inside urllib3's retry, `request_raw` turns it into a ToolFailure
                        (rate_limited)
    UnknownToolError    no tool of that name is registered
    DumpError           a file that is not a GeoNames dump
    ModelError          a model backend gave no completion; carries an ErrorKind (timeout,
                        http_error, bad_response, unavailable, invalid_args, cache_miss);
                        exported by `agent.backends`
    LocatabilityError   a locatability checkpoint, pairs file or training set is unusable
    ImageLoadError      an image for the locatability model cannot be read
    GroundTruthError    a ground-truth or exclusion source cannot be read as a whole
    DatasetFormatError  a dataset source as a whole is not in the expected format
    RowError            one dataset row cannot become a sample; it never leaves the loader,
                        which records it as a RowProblem
    ManifestError       a run folder holds another run (dataset, config), or a bad manifest
    ResultsError        a run's results file cannot be read or written

Inside the agent a ToolFailure never escapes: `Tool.run` turns it (and any other
exception) into a typed error result the model and the trace can read.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    timeout = "timeout"
    rate_limited = "rate_limited"
    http_error = "http_error"
    bad_response = "bad_response"
    not_found = "not_found"
    invalid_args = "invalid_args"
    cache_miss = "cache_miss"  # replay-only cache had no answer; nothing was sent
    unavailable = "unavailable"  # backend not set up (e.g. offline data not imported)
    internal = "internal"  # a bug in a tool: reported, never raised into the agent


class GreError(Exception):
    """Root of the errors gre_agent raises on purpose."""


class ConfigError(GreError, ValueError):
    """Settings, a training configuration or offline data that cannot be used."""


class ToolFailure(GreError):
    """A tool could not produce a result; `kind` says why."""

    def __init__(self, kind: ErrorKind | str, message: str):
        self.kind = ErrorKind(kind)
        self.message = message
        super().__init__(f"{self.kind}: {message}")


class PromptError(GreError):
    """A prompt template does not exist, or a value it needs was not given."""


class AnswerParseError(GreError):
    """No valid coordinates in a model's answer; `reason` says why, `text` is the input."""

    def __init__(self, reason: str, text: str = ""):
        self.reason = reason
        self.text = text
        super().__init__(reason)
