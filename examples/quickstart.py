"""Quickstart: build a small graph, backpropagate, print every gradient."""
import autodiff as ad

x1 = ad.tensor(2.0, requires_grad=True, name="x1")
x2 = ad.tensor(0.0, requires_grad=True, name="x2")
w1 = ad.tensor(-3.0, requires_grad=True, name="w1")
w2 = ad.tensor(1.0, requires_grad=True, name="w2")
b = ad.tensor(6.8813735870195432, requires_grad=True, name="b")

n = x1 * w1 + x2 * w2 + b
o = n.tanh()
o.backward()

print(f"o = tanh(x1*w1 + x2*w2 + b) = {o.item():.4f}")
for t in (x1, x2, w1, w2, b):
    print(f"d o / d {t.name:<2} = {t.grad.item():+.4f}")
