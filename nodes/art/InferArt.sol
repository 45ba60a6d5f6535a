// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {PNG} from "./PNG.sol";

/// @title InferArt: an ERC-721 whose pictures are drawn by a neural network inside the view call.
/// @notice A token stores only its seed. `tokenURI` runs the sealed 64x64 RGB generator with `infer()`
/// on the token's latent, encodes the pixels as a PNG and returns OpenSea-style metadata as a data URI.
/// Invariants: `generator` is immutable and must be a sealed model (immutable bytes, checked by
/// MODELINFO in the constructor), a seed is written once at mint and never changed, and every step
/// after it is integer arithmetic: a token's tokenURI is the same bytes on every node, forever.
///   latent(id)    = keccak256(abi.encode(seedOf[id])), 32 bytes read as int8 (the INFER input)
///   pixel byte    = output byte + 128 (mod 256), row-major RGB scanlines
contract InferArt is ERC721 {
    using Strings for uint256;

    uint256 public constant SIZE = 64;
    uint256 private constant RGB_BYTES = 12288; // SIZE * SIZE * 3
    bytes32 private constant PLUS_128 = 0x8080808080808080808080808080808080808080808080808080808080808080;

    /// @notice The ModelStore holding the generator (input 32 int8 bytes, output 64 x 64 x 3 int8 bytes).
    address public immutable generator;
    uint256 public totalSupply;
    mapping(uint256 id => uint256) public seedOf;

    constructor(address generator_) ERC721("InferArt", "INFART") {
        (uint256 inputSize, uint256 outputSize) = modelinfo(generator_);
        require(inputSize == 32 && outputSize == RGB_BYTES, "InferArt: not a sealed 32 -> 64x64x3 model");
        generator = generator_;
    }

    /// @notice Mint the next token (ids 1, 2, ...) to the caller; its seed mixes the block's randomness,
    /// the minter and the id.
    function mint() external returns (uint256 id) {
        id = ++totalSupply;
        seedOf[id] = uint256(keccak256(abi.encode(block.prevrandao, msg.sender, id)));
        _mint(msg.sender, id);
    }

    /// @notice The generator's input for token `id`.
    function latent(uint256 id) public view returns (bytes memory) {
        _requireOwned(id);
        return abi.encodePacked(keccak256(abi.encode(seedOf[id])));
    }

    /// @notice The token's 64 x 64 RGB pixels, row-major, as the generator draws them.
    function pixels(uint256 id) public view returns (bytes memory rgb) {
        rgb = new bytes(RGB_BYTES);
        infer(generator, latent(id), rgb);
        assembly ("memory-safe") {
            for { let p := add(rgb, 32) let end := add(p, RGB_BYTES) } lt(p, end) { p := add(p, 32) } {
                mstore(p, xor(mload(p), PLUS_128)) // RGB_BYTES is a multiple of 32
            }
        }
    }

    /// @notice The token's picture as a PNG file.
    function png(uint256 id) public view returns (bytes memory) {
        return PNG.encodeRGB(pixels(id), SIZE, SIZE);
    }

    /// @notice `data:application/json;base64,` metadata: name, description, attributes, PNG image.
    function tokenURI(uint256 id) public view override returns (string memory) {
        bytes memory rgb = pixels(id);
        string memory json = string.concat(
            '{"name":"InferArt #',
            id.toString(),
            '","description":"Drawn on chain by a CPPN generator run with INFER inside tokenURI.",',
            '"attributes":',
            _attributes(id, rgb),
            ',"image":"data:image/png;base64,',
            Base64.encode(PNG.encodeRGB(rgb, SIZE, SIZE)),
            '"}'
        );
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
    }

    /// @dev [Seed, Palette (hue sector of the mean colour), Brightness (mean of R, G, B over the image)].
    function _attributes(uint256 id, bytes memory rgb) private view returns (string memory) {
        (uint256 r, uint256 g, uint256 b) = _means(rgb);
        return string.concat(
            '[{"trait_type":"Seed","value":"',
            seedOf[id].toHexString(32),
            '"},{"trait_type":"Palette","value":"',
            _palette(r, g, b),
            '"},{"trait_type":"Brightness","display_type":"number","value":',
            ((r + g + b) / 3).toString(),
            "}]"
        );
    }

    /// @dev Mean of each channel, rounded down.
    function _means(bytes memory rgb) private pure returns (uint256 r, uint256 g, uint256 b) {
        assembly ("memory-safe") {
            for { let p := add(rgb, 32) let end := add(p, RGB_BYTES) } lt(p, end) { p := add(p, 3) } {
                let w := mload(p)
                r := add(r, byte(0, w))
                g := add(g, byte(1, w))
                b := add(b, byte(2, w))
            }
        }
        uint256 n = SIZE * SIZE;
        return (r / n, g / n, b / n);
    }

    /// @dev The hue sector named by the order of the channel means (ties go to the earlier name).
    function _palette(uint256 r, uint256 g, uint256 b) private pure returns (string memory) {
        if (r >= g && g >= b) return "Amber";
        if (g > r && r >= b) return "Lime";
        if (g >= b && b > r) return "Jade";
        if (b > g && g > r) return "Azure";
        if (b > r && r >= g) return "Violet";
        return "Rose"; // r > b > g, or r >= b > g
    }
}
