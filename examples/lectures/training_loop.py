"""The canonical PyTorch training loop, as the slide writes it (lecture: "Training a network
in PyTorch": `class Net(nn.Module)` with fc1 -> relu -> fc2 -> log_softmax, then `train` with
optimizer.zero_grad() / F.nll_loss / loss.backward() / optimizer.step() and a log line every
`log_interval` batches, and `test` summing the loss and counting correct predictions).

Only the imports change: `torch` -> `autodiff as ad`, `torch.nn` -> `nn`,
`torch.nn.functional` -> `nn.functional as F`, `torch.optim` -> `nn.optim`,
`torch.utils.data` -> `nn.utils.data`, `torchvision.transforms` -> `nn.transforms`. The data
are the 8x8 digits shipped with nn.utils.data (`load_digits()`; MNIST's 28x28 = 784 inputs
become 64).

What to look at: the log lines (the loss falls from ~2.3 = log 10 within the first epoch),
and the test accuracy after each epoch (about 96% after 2 epochs, 98% after 10; batch 32,
SGD lr 0.1, momentum 0.5, since the digits give 45 batches per epoch where MNIST gives 938).

Run: python examples/lectures/training_loop.py [--quick] [--out DIR] [--epochs N]
"""
from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402  (first: it limits BLAS threads before NumPy loads)

import autodiff as ad  # noqa: E402  (torch)
import nn  # noqa: E402  (torch.nn)
import nn.functional as F  # noqa: E402  (torch.nn.functional)
import nn.optim as optim  # noqa: E402  (torch.optim)
from nn import transforms  # noqa: E402  (torchvision.transforms)
from nn.utils.data import DataLoader, load_digits, random_split  # noqa: E402  (torch.utils.data)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = x.view(-1, 64)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with ad.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)
    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))
    return test_loss, correct / len(test_loader.dataset)


def digits_loaders(batch_size, test_batch_size, seed=0):
    """The slide's MNIST loaders, for the 8x8 digits: a seeded 1,438 / 359 split, inputs
    normalised with the training set's mean and std (the slide's
    transforms.Normalize((0.1307,), (0.3081,)) holds MNIST's)."""
    dataset = load_digits()
    train_set, test_set = random_split(dataset, [1438, 359],
                                       generator=ad.Generator().manual_seed(seed))
    images = dataset.tensors[0].numpy()[train_set.indices]
    normalize = transforms.Normalize((float(images.mean()),), (float(images.std()),))
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              transform=normalize, generator=ad.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=test_batch_size, shuffle=False,
                             transform=normalize)
    return train_loader, test_loader


def _extra(parser):
    parser.add_argument('--batch-size', type=int, default=32, metavar='N')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N')
    parser.add_argument('--epochs', type=int, default=None, metavar='N',
                        help='number of epochs to train (default: 10, 2 with --quick)')
    parser.add_argument('--lr', type=float, default=0.1, metavar='LR')
    parser.add_argument('--momentum', type=float, default=0.5, metavar='M')
    parser.add_argument('--seed', type=int, default=1, metavar='S')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')


def main(argv=None):
    args = _common.parse_args("training_loop", __doc__, argv, _extra)
    epochs = args.epochs or (2 if args.quick else 10)
    ad.manual_seed(args.seed)
    device = "cpu"  # "cuda" when ad.cuda.is_available()
    train_loader, test_loader = digits_loaders(args.batch_size, args.test_batch_size,
                                               seed=args.seed)

    model = Net().to(device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    history = []
    for epoch in range(1, epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        history.append(test(model, device, test_loader))
    return {"history": history, "accuracy": history[-1][1], "loss": history[-1][0]}


if __name__ == '__main__':
    main()
