"""`aievm art`: InferArt, an ERC-721 whose tokenURI draws its picture with INFER (docs/art.md).

contract.py  compile InferArt, deploy the generator and the contract, remember deployments, mint
token.py     decode a tokenURI (JSON, then PNG) and the attribute rules mirrored from InferArt.sol
gallery.py   the gallery web server (the page reads the chain itself, with ethers from node_modules)
cli.py       the `aievm art` command group
"""
