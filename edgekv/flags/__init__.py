"""Pure DevCycle flag evaluation: config v2 model, targeting, exact bucketing, EdgeDB merge.

Evaluating the same config and user here gives the variation DevCycle's own SDKs give.
"""

from .bucketing import (
    MAX_HASH,
    bounded_hash,
    bounded_hashes,
    bucketing_value,
    decide_variation,
    decide_variations,
    murmur3,
    passes_rollout,
    rollout_percentage,
)
from .columns import MISSING, Column, UserColumns
from .config import (
    Audience,
    Environment,
    Feature,
    Filter,
    FilterGroup,
    FlagConfig,
    FlagConfigError,
    Project,
    Rollout,
    RolloutStage,
    Target,
    Variable,
    Variation,
    VariationShare,
    parse_config,
)
from .evaluate import (
    DEFAULT,
    DISABLED,
    SPLIT,
    TARGETING_MATCH,
    EvaluatedFeature,
    EvaluatedVariable,
    Evaluator,
)
from .targeting import compare_versions, compile_group, reads
from .user import USER_ATTRIBUTES, User, UserError, merge_user

__all__ = [
    "DEFAULT",
    "DISABLED",
    "MAX_HASH",
    "MISSING",
    "SPLIT",
    "TARGETING_MATCH",
    "USER_ATTRIBUTES",
    "Audience",
    "Column",
    "VariationShare",
    "Environment",
    "EvaluatedFeature",
    "EvaluatedVariable",
    "Evaluator",
    "Feature",
    "Filter",
    "FilterGroup",
    "FlagConfig",
    "FlagConfigError",
    "Project",
    "Rollout",
    "RolloutStage",
    "Target",
    "User",
    "UserColumns",
    "UserError",
    "Variable",
    "Variation",
    "bounded_hash",
    "bounded_hashes",
    "bucketing_value",
    "compare_versions",
    "compile_group",
    "decide_variation",
    "decide_variations",
    "merge_user",
    "murmur3",
    "parse_config",
    "passes_rollout",
    "reads",
    "rollout_percentage",
]
