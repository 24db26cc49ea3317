"""A two-layer network as an nn.Module: its parameters, a forward pass and one training
step (lecture: "Neural networks in PyTorch", the slide defining `TwoLayerNet(nn.Module)`
with `self.linear1 = nn.Linear(D_in, H)` and `self.linear2 = nn.Linear(H, D_out)`).

What to look at: the Module registers both layers' weights and biases by itself
(linear1.weight is (H, D_in): one row per hidden unit); forward is y = W2 relu(W1 x + b1)
+ b2; after `loss.backward()` every parameter has a .grad of its own shape, and
`optimizer.step()` moves each parameter by exactly -lr * grad, which lowers the loss.
Without the ReLU the two layers collapse into one linear map W = W2 W1, b = W2 b1 + b2:
depth buys nothing without a nonlinearity.

Run: python examples/lectures/two_layer_linear_nn_demo.py [--quick] [--out DIR]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import nn  # noqa: E402
from nn import optim  # noqa: E402

D_IN, H, D_OUT, N = 3, 4, 2, 5
LR = 0.1


class TwoLayerNet(nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.linear1 = nn.Linear(D_in, H)
        self.linear2 = nn.Linear(H, D_out)

    def forward(self, x):
        h_relu = self.linear1(x).clamp(0)  # the slide: .clamp(min=0)
        return self.linear2(h_relu)


def main(argv=None):
    _common.parse_args("two_layer_linear_nn_demo", __doc__, argv)
    ad.manual_seed(0)
    model = TwoLayerNet(D_IN, H, D_OUT)
    x = ad.randn(N, D_IN)
    y = ad.randn(N, D_OUT)
    print(f"model = TwoLayerNet(D_in={D_IN}, H={H}, D_out={D_OUT})")
    print(model)

    print("\n== parameters (registered by assigning nn.Linear attributes)")
    for name, p in model.named_parameters():
        print(f"{name:15s} shape {str(tuple(p.shape)):8s} requires_grad={p.requires_grad}")
        print(_common.array_str(p.data))
    n_params = model.num_parameters()
    print(f"total: {n_params} = ({D_IN}*{H} + {H}) + ({H}*{D_OUT} + {D_OUT})")

    print(f"\n== forward pass on a batch of {N}")
    y_pred = model(x)
    W1, b1 = model.linear1.weight.data, model.linear1.bias.data
    W2, b2 = model.linear2.weight.data, model.linear2.bias.data
    h = np.maximum(x.data @ W1.T + b1, 0)
    by_hand = h @ W2.T + b2
    print("y_pred = model(x) =")
    print(_common.array_str(y_pred.data))
    print(f"equals relu(x W1^T + b1) W2^T + b2 computed by hand: max difference "
          f"{np.abs(y_pred.data - by_hand).max():.1e}")

    print(f"\n== one training step: MSE loss, backward, SGD(lr={LR})")
    loss_fn = nn.MSELoss(reduction="sum")
    optimizer = optim.SGD(model.parameters(), lr=LR)
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    loss = loss_fn(y_pred, y)
    optimizer.zero_grad()
    loss.backward()
    grads = {name: p.grad.data.copy() for name, p in model.named_parameters()}
    optimizer.step()
    steps_ok = True
    for name, p in model.named_parameters():
        ok = np.allclose(p.data - before[name], -LR * grads[name], rtol=0, atol=1e-7)
        steps_ok &= ok
        print(f"{name:15s} grad norm {np.linalg.norm(grads[name]):.4f}   update = -lr * grad: "
              f"{ok}")
    with ad.no_grad():
        loss_after = loss_fn(model(x), y)
    print(f"loss before the step {loss.item():.4f}, after {loss_after.item():.4f}")
    # dL/dW2 = 2 (y_pred - y)^T relu(x W1^T + b1): the closed form of the last layer
    grad_w2 = 2 * (y_pred.data - y.data).T @ h
    print(f"dL/dW2 by the chain rule, 2 (y_pred - y)^T h, vs autodiff: max difference "
          f"{np.abs(grad_w2 - grads['linear2.weight']).max():.1e}")

    print("\n== without the ReLU, two linear layers are one: W = W2 W1, b = W2 b1 + b2")
    linear = nn.Sequential(model.linear1, model.linear2)
    W1, b1 = model.linear1.weight.data, model.linear1.bias.data
    W2, b2 = model.linear2.weight.data, model.linear2.bias.data
    with ad.no_grad():
        two = linear(x).data
    one = x.data @ (W2 @ W1).T + (W2 @ b1 + b2)
    print(f"linear2(linear1(x)) vs x (W2 W1)^T + (W2 b1 + b2): max difference "
          f"{np.abs(two - one).max():.1e}")
    return dict(parameters=n_params, forward_error=float(np.abs(y_pred.data - by_hand).max()),
                loss_before=loss.item(), loss_after=loss_after.item(),
                grad_w2_error=float(np.abs(grad_w2 - grads["linear2.weight"]).max()),
                collapse_error=float(np.abs(two - one).max()),
                steps_ok=steps_ok)


if __name__ == "__main__":
    main()
