"""The `opml` section of `aievm bench`: optimistic-inference disputes on an in-process devnet.

Runs `aievm opml demo`'s scenarios (honest, tampered op 1, dishonest challenger) on the MNIST MLP and
CNN, plus tampered op 3 of the CNN (its most expensive proof), op 2 of the DCGAN generator (the shipped
op with the most MACs) and op 10 of the CPPN (the most expensive proof: a 98 kB input tensor), and reports
per
dispute: the outcome, the rounds, each party's gas, the one-step proof's gas and the wall time.
"""

from __future__ import annotations

from dataclasses import asdict

from nodes.opml.demo import MODELS, ROOT, SCENARIOS, run_demo

LARGEST = [
    ("MNIST CNN", ROOT / "models/mnist_cnn/mnist_cnn.aiem", 3),
    ("DCGAN", ROOT / "models/dcgan/dcgan_generator.aiem", 2),
    ("CPPN", ROOT / "models/cppn/cppn.aiem", 10),
]


def opml_section(settings=None) -> dict:
    outcomes = run_demo(log=lambda _: None, models=MODELS, scenarios=SCENARIOS)
    for name, path, op in LARGEST:
        outcomes += run_demo(
            log=lambda _: None, models={name: path}, scenarios=[(f"tampered op {op}", op, False)]
        )
    disputes = [o for o in outcomes if o.rounds]
    return {
        "disputes": [asdict(o) for o in outcomes],
        "max_dispute_s": max(o.seconds for o in disputes),
        "max_proof_gas": max(o.proof_gas for o in outcomes),
    }
