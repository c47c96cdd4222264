"""Onboarding: grade a model on validation prompts and add it to a UniRoute-style router."""

from polyroute.onboarding._graders import (
    ChoiceGrader,
    ExactMatchGrader,
    NumericGrader,
    RegexGrader,
    available_graders,
    extract_choice,
    extract_number,
    make_grader,
    register_grader,
)
from polyroute.onboarding._onboard import (
    ModelCost,
    check_report,
    format_summary,
    onboard_endpoint,
    onboard_model,
)
from polyroute.onboarding._outcomes import (
    Outcome,
    ValidationItem,
    outcome_vector,
    read_outcomes,
    read_validation_set,
    write_outcomes,
    write_validation_set,
)
from polyroute.onboarding._runner import (
    EndpointConfig,
    OutcomeCache,
    RunReport,
    collect_outcomes,
    run_endpoint,
)
from polyroute.onboarding._validation import VALIDATION_FILE, dataset_validation_set

__all__ = [
    "VALIDATION_FILE",
    "ChoiceGrader",
    "EndpointConfig",
    "ExactMatchGrader",
    "ModelCost",
    "NumericGrader",
    "Outcome",
    "OutcomeCache",
    "RegexGrader",
    "RunReport",
    "ValidationItem",
    "available_graders",
    "check_report",
    "collect_outcomes",
    "dataset_validation_set",
    "extract_choice",
    "extract_number",
    "format_summary",
    "make_grader",
    "onboard_endpoint",
    "onboard_model",
    "outcome_vector",
    "read_outcomes",
    "read_validation_set",
    "register_grader",
    "run_endpoint",
    "write_outcomes",
    "write_validation_set",
]
