"""Computes of the fake Azure ML workspace (SDK v1): what `ComputeTarget(ws, name)`, `ComputeTarget.create`,
`AmlCompute.update`, `wait_for_completion` and `delete` ask. A compute is ARM's resource (its shape: the v2
fake's recorded PUT answer, which is the same resource; ../azureml_v2/recorded/compute_put.json), read through
the workspace's `rp/workspaces/...` proxy or ARM; writes answer an `Azure-AsyncOperation` URL whose status is
polled (InProgress, then the operation's end: Succeeded, or Failed with its errors)."""

import copy
import uuid

from tests.workspaces.azureml_v1.fake_service import error_body, now_iso
from tests.workspaces.azureml_v2 import recorded

# a cluster at rest, as the service describes one after provisioning: no node, none wanted
STEADY_AT_ZERO = {
    "allocationState": "Steady",
    "currentNodeCount": 0,
    "targetNodeCount": 0,
    "nodeStateCounts": dict.fromkeys(
        ("idleNodeCount", "runningNodeCount", "preparingNodeCount", "unusableNodeCount", "leavingNodeCount"), 0
    )
    | {"preemptedNodeCount": 0},
    "errors": None,
}
OPERATIONS = (
    "/subscriptions/{}/providers/Microsoft.MachineLearningServices/locations/eastus2/computeOperationsStatus/{}"
)


class Computes:
    """Mixin of FakeAzureMLv1: its `computes` (name -> ARM resource) and their operations."""

    def _init_computes(self, arm_scope: str) -> None:
        self.computes: dict[str, dict] = {}
        self.operations: dict[str, list[dict]] = {}
        self.failed_provisioning: dict[str, list[dict]] = {}  # name -> the errors its creation will end with
        self._recorded_compute = recorded.stored("compute_put")
        compute = rf"{arm_scope}/computes/([^/]+)"
        for host in ("arm", "service"):
            prefix = "/rp/workspaces" if host == "service" else ""
            self.route("GET", host, prefix + compute, self.compute_get)
        self.route("PUT", "arm", compute, self.compute_put)
        self.route("PATCH", "arm", compute, self.compute_patch)
        self.route("DELETE", "arm", compute, self.compute_delete)
        self.route("GET", "arm", r"/subscriptions/([^/]+)/providers/.*/computeOperationsStatus/([^/]+)", self.operation)

    def compute_get(self, request, subscription, group, workspace, name):
        found = self.computes.get(name)
        if found is None:
            message = (
                f"The Resource 'Microsoft.MachineLearningServices/workspaces/{workspace}/computes/{name}' "
                f"under resource group '{group}' was not found."
            )
            return 404, {"error": {"code": "ResourceNotFound", "message": message}}, {}
        return 200, found, {}

    def _operation(self, subscription: str, steps: list[dict]) -> dict:
        operation = uuid.uuid4().hex
        self.operations[operation] = steps
        return {"Azure-AsyncOperation": "https://management.azure.com" + OPERATIONS.format(subscription, operation)}

    def compute_put(self, request, subscription, group, workspace, name):
        body = request.json()
        resource = copy.deepcopy(self._recorded_compute["body"])
        scope = request.path.rsplit("/computes/", 1)[0]
        resource.update(id=f"{scope}/computes/{name}", name=name, location=body.get("location", "eastus2"))
        recorded = resource["properties"]
        resource["properties"] = {**recorded, **body["properties"]}
        resource["properties"]["properties"] = {**recorded["properties"], **body["properties"]["properties"]}
        errors = self.failed_provisioning.pop(name, None)
        resource["properties"]["provisioningState"] = "Failed" if errors else "Succeeded"
        resource["properties"]["provisioningErrors"] = errors
        resource["properties"]["properties"] |= STEADY_AT_ZERO
        resource["properties"] |= {"createdOn": now_iso(), "modifiedOn": now_iso()}
        self.computes[name] = resource
        end = {"status": "Failed", "error": errors[0]["error"]} if errors else {"status": "Succeeded"}
        creating = {**resource, "properties": {**resource["properties"], "provisioningState": "Creating"}}
        # ended at the first poll: the SDK polls every 5 s, Azure takes minutes; what matters is how it ends
        return 201, creating, self._operation(subscription, [end])

    def compute_patch(self, request, subscription, group, workspace, name):
        if name not in self.computes:
            return self.compute_get(request, subscription, group, workspace, name)
        scale = request.json()["properties"]["properties"]["scaleSettings"]
        self.computes[name]["properties"]["properties"]["scaleSettings"].update(scale)
        return 200, self.computes[name], self._operation(subscription, [{"status": "Succeeded"}])

    def compute_delete(self, request, subscription, group, workspace, name):
        self.computes.pop(name, None)
        return 202, None, self._operation(subscription, [{"status": "Succeeded"}])

    def operation(self, request, subscription, operation):
        steps = self.operations.get(operation)
        if not steps:
            return 404, error_body("NotFound", f"operation {operation} not found", 404), {}
        return 200, steps.pop(0) if len(steps) > 1 else steps[0], {}
