"""FedAvg variants on MNIST in one process, to choose what to run through Flower.

The federation's own pieces, without Flower's processes: the 10,000 MNIST test images at
14×14, split by ``federated.partition``'s Dirichlet draw between 10 holders (each holds out
20 %), the CNN ``trainforge federated simulate --model cnn`` trains (widths 16, 32, dense 64),
each client's ``local_step.train_locally``, and the coordinator's step as Flower's FedAvgM
writes it (momentum on the average update; 0 is FedAvg) or Adam on the server. A round costs
seconds here, against minutes through the deployment runtime on a loaded machine.

    PYTHONPATH=src python benchmarks/federated/fedavg_in_process.py 0.5 fedavgm \
        '{"rounds": 30, "epochs": 1, "lr": 0.1, "server_momentum": 0.7}'
    PYTHONPATH=src python benchmarks/federated/fedavg_in_process.py 0.5 central '{"passes": 20, "lr": 0.1}'

Prints one JSON line: the held-out accuracy after each round (or of the centralised model).
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))
from materialise import load

from trainforge.algorithms.vision import SimpleCNN
from trainforge.federated.local_step import train_locally
from trainforge.federated.networks import load_weights, weights_of
from trainforge.federated.partition import _dirichlet

torch.set_num_threads(1)
images, labels = load("mnist")
x = torch.as_tensor(np.asarray(images, dtype=np.float32) / 255.0)
if x.ndim == 3: x = x[:, None]
x = torch.nn.functional.avg_pool2d(x, 2)  # 14x14
mean, std = float(x.mean()), float(x.std())
x = (x - mean) / std
y = torch.as_tensor(np.asarray(labels, dtype=np.int64))

def make():
    return SimpleCNN(1, 10, widths=[16, 32], hidden=64, dropout=0.0)

def setup(alpha, seed=0):
    rng = np.random.default_rng(seed)
    groups = _dirichlet(pd.Series(np.asarray(labels).astype(str)), 10, alpha, rng, source="m")
    train, held = [], []
    for g in groups:
        g = rng.permutation(g); cut = int(len(g) * 0.8)
        train.append(np.sort(g[:cut])); held.append(np.sort(g[cut:]))
    return train, np.concatenate(held)

def acc(w, held):
    m = load_weights(make(), w).eval()
    with torch.inference_mode():
        return float((m(x[held]).argmax(1) == y[held]).float().mean())

def fed(train, held, *, rounds, epochs, lr, decay=1.0, mu=0.0, server_momentum=0.0, server_lr=1.0, seed=0, adam=None, tau=1e-3):
    torch.manual_seed(seed); w = weights_of(make()); m = make()
    velocity = [np.zeros_like(a) for a in w]; accs = []
    for r in range(rounds):
        lr_r = lr * decay ** r
        updates, ns = [], []
        for i, rows in enumerate(train):
            res = train_locally(m, w, x[rows], y[rows], classification=True, epochs=epochs,
                                batch_size=32, learning_rate=lr_r, proximal_mu=mu, seed=seed * 1000 + r * 10 + i)
            updates.append(res.weights); ns.append(res.n_rows)
        ns = np.asarray(ns, float) / sum(ns)
        avg = [sum(n * u[k] for n, u in zip(ns, updates)) for k in range(len(w))]
        delta = [a - b for a, b in zip(w, avg)]  # pseudo-gradient
        if adam is not None:
            if r == 0: mom = [np.zeros_like(a) for a in w]; var = [np.zeros_like(a) for a in w]
            mom = [0.9 * m_ + 0.1 * d for m_, d in zip(mom, delta)]
            var = [0.99 * v_ + 0.01 * d * d for v_, d in zip(var, delta)]
            w = [a - adam * m_ / (np.sqrt(v_) + tau) for a, m_, v_ in zip(w, mom, var)]
        else:
            velocity = [server_momentum * v + d for v, d in zip(velocity, delta)]
            w = [a - server_lr * v for a, v in zip(w, velocity)]
        accs.append(round(acc(w, held), 4))
    return accs

def central(train, held, *, passes, lr, decay=1.0, epochs_per=1, seed=0):
    torch.manual_seed(seed); w = weights_of(make()); m = make()
    rows = np.concatenate(train); 
    for p in range(passes):
        res = train_locally(m, w, x[rows], y[rows], classification=True, epochs=1, batch_size=32,
                            learning_rate=lr * decay ** (p // epochs_per), proximal_mu=0.0, seed=seed + p)
        w = res.weights
    return acc(w, held)

if __name__ == "__main__":
    alpha = float(sys.argv[1]); name = sys.argv[2]; kw = json.loads(sys.argv[3])
    train, held = setup(alpha)
    t = time.time()
    if name.startswith("central"):
        out = central(train, held, **kw)
    else:
        out = fed(train, held, **kw)
    print(json.dumps({"alpha": alpha, "name": name, "kw": kw, "acc": out, "s": round(time.time() - t)}), flush=True)
