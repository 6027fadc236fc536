"""Prometheus metrics of one bot process, in a registry of its own."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tuneloop_requests", "HTTP requests.", ["endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "tuneloop_request_latency_seconds",
            "Time to answer a request.",
            ["endpoint"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "tuneloop_prompt_tokens", "Prompt tokens read.", registry=self.registry
        )
        self.completion_tokens = Counter(
            "tuneloop_completion_tokens", "Tokens generated.", registry=self.registry
        )
        self.batch_size = Histogram(
            "tuneloop_generation_batch_size",
            "Whole answers generated together in one pass (dynamic batching).",
            buckets=(1, 2, 4, 8, 16, 32),
            registry=self.registry,
        )
        self.feedback = Counter(
            "tuneloop_feedback", "Feedback events received.", ["kind"], registry=self.registry
        )
        self.guard_outcomes = Counter(
            "tuneloop_guarded_answers",
            "Answers the serving guard flagged, by what the user got instead: "
            "regenerated_clean or fallback.",
            ["outcome"],
            registry=self.registry,
        )
        self.model = Gauge(
            "tuneloop_active_model_version",
            "Model version in service (the value is its id; 0 for a model not in the registry).",
            ["name"],
            registry=self.registry,
        )

    def serving(self, name: str, version_id: int | None) -> None:
        self.model.clear()
        self.model.labels(name=name).set(version_id or 0)
