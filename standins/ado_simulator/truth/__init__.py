"""Ground truth of the metrics of docs/metrics.md, from the simulator's own model (see ``metrics``)."""

from standins.ado_simulator.truth.figures import GroupTruth, MetricTruth, WeekTruth
from standins.ado_simulator.truth.metrics import METRIC_IDS, world_metrics

__all__ = ["METRIC_IDS", "GroupTruth", "MetricTruth", "WeekTruth", "world_metrics"]
