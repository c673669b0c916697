"""WeightDrift: the relative distance from a run's starting weights, also when they come from a state dict."""

import pytest
import torch

from thinkvl.train.drift import WeightDrift


def test_distance_from_a_given_state_dict_not_from_the_current_weights():
    model = torch.nn.Linear(3, 2)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    resumed = WeightDrift(model.parameters())  # what a resumed run measured before: from the checkpoint
    from_start = WeightDrift.from_state_dict(model, start)
    assert resumed.relative_change() == 0.0
    size = torch.cat([start["weight"].flatten(), start["bias"]]).norm()
    assert from_start.relative_change() == pytest.approx(float(torch.tensor(6.0).sqrt() / size), rel=1e-6)


def test_start_weights_that_do_not_match_are_refused():
    model = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="lack 1 parameters"):
        WeightDrift.from_state_dict(model, {"weight": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="one for one"):
        WeightDrift(model.parameters(), [torch.zeros(3, 2), torch.zeros(2)])
