"""The CPPN art generator of InferArt (docs/art.md): construct.py builds it, sampling.py maps seeds
and outputs to pixels."""
