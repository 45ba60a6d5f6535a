"""aievm's EVM extension: an integer tensor engine, the on-chain model format and the INFER fork."""

__version__ = "0.1.0"
