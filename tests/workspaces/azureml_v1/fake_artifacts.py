"""A run's files in the fake Azure ML workspace (SDK v1): the artifact service over the artifact store's blobs
(ExperimentRun/dcid.<run id>/...: the logs and outputs fake_runs.py keeps there), with SAS URLs to read them. The
SDK's models: ArtifactDto, ArtifactContentInformationDto and their paginated lists."""

ARTIFACT = "/artifact/v2.0"


class Artifacts:
    """Mixin of FakeAzureMLv1."""

    def _init_artifacts(self, arm_scope: str) -> None:
        artifacts = rf"{ARTIFACT}{arm_scope}/artifacts"
        prefix = rf"{artifacts}/prefix/contentinfo/([^/]+)/([^/]+)(?:/(.*))?"
        self.route("GET", "service", prefix, self.artifacts_by_prefix, "PaginatedArtifactContentInformationDto")
        self.route(
            "GET",
            "service",
            rf"{artifacts}/contentinfo/([^/]+)/([^/]+)/(.*)",
            self.artifact_content,
            "ArtifactContentInformationDto",
        )
        self.route("GET", "service", rf"{artifacts}/([^/]+)/([^/]+)", self.artifacts_listed, "PaginatedArtifactDto")

    def _artifacts(self, origin: str, container: str, prefix: str = "") -> list[str]:
        """The paths of a run's artifacts (relative to it) that start with `prefix`."""
        run_id = container.removeprefix("dcid.")
        if self.run_record(run_id) is not None:
            self.sync(run_id)
        root = f"{origin}/{container}/"
        blobs = self.container("workspaceartifactstore").list_blobs(name_starts_with=root + prefix)
        return [blob.name[len(root) :] for blob in blobs]

    def _content(self, origin: str, container: str, path: str) -> dict:
        uri = self.blob_url("workspaceartifactstore", f"{origin}/{container}/{path}", hours=self.sas_hours)
        return {"contentUri": uri, "origin": origin, "container": container, "path": path}

    def artifacts_by_prefix(self, request, subscription, group, workspace, origin, container, prefix):
        found = [self._content(origin, container, path) for path in self._artifacts(origin, container, prefix or "")]
        return 200, {"value": found, "continuationToken": None}, {}

    def artifact_content(self, request, subscription, group, workspace, origin, container, path):
        if path not in self._artifacts(origin, container, path):
            return (
                404,
                {"error": {"code": "NotFound", "message": f"Artifact {origin}/{container}/{path} not found"}},
                {},
            )
        return 200, self._content(origin, container, path), {}

    def artifacts_listed(self, request, subscription, group, workspace, origin, container):
        listed = [
            {"artifactId": f"{origin}/{container}/{path}", "origin": origin, "container": container, "path": path}
            for path in self._artifacts(origin, container)
        ]
        return 200, {"value": listed, "continuationToken": None}, {}


class Metrics:
    """Mixin of FakeAzureMLv1: a run's metrics (the metric v2 service), as train.py logged them through MLflow to
    the run's own store (fake_runner.py gives each run one, as a run on Azure ML has its own)."""

    def _init_metrics(self, arm_scope: str) -> None:
        metrics = rf"/metric/v2.0{arm_scope}/runs/([^/]+)"
        self.route("POST", "service", rf"{metrics}/list", self.metrics_listed, "PaginatedMetricDefinitionDto")
        self.route("POST", "service", rf"{metrics}/full", self.metric_values, "MetricV2Dto")

    def logged(self, run_id: str) -> dict[str, float]:
        from mlflow import MlflowClient

        store = self.runs_folder / run_id / "mlruns"
        if not store.exists():
            return {}
        client = MlflowClient(tracking_uri=f"file://{store}")
        found = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
        return dict(found[0].data.metrics) if found else {}

    def metrics_listed(self, request, subscription, group, workspace, run_id):
        if self.run_record(run_id) is None:
            return self.run_missing(run_id)
        definitions = [
            {"metricKey": {"namespace": None, "name": name}, "columns": {name: "Double"}}
            for name in self.logged(run_id)
        ]
        return 200, {"value": definitions, "continuationToken": None}, {}

    def metric_values(self, request, subscription, group, workspace, run_id):
        name = (request.json() or {}).get("metricName")
        logged = self.logged(run_id)
        if name not in logged:  # v2's GetFullFidelity answers 404 for a metric the run has not (the SDK's comment)
            return 404, {"error": {"code": "NotFound", "message": f"Metric {name} not found"}}, {}
        value = {"metricId": f"{run_id}-{name}", "createdUtc": None, "step": 0, "data": {name: logged[name]}}
        answer = {
            "dataContainerId": f"dcid.{run_id}",
            "name": name,
            "columns": {name: "Double"},
            "value": [value],
            "continuationToken": None,
            "properties": {"uxMetricType": "azureml.v1.scalar"},
        }
        return 200, answer, {}
