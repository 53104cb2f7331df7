package io.tandem.protocol;

/**
 * What a generation did: takeovers (large-model steps after a trigger), recaps, negative steps,
 * tokens by author, and small-model tokens generated but discarded (look-aheads not kept).
 */
public record Counters(
    int triggers,
    int lookaheads,
    int takeovers,
    int verifies,
    int recaps,
    int negatives,
    int smallTokens,
    int largeTokens,
    int injectedTokens,
    int smallTokensDiscarded,
    int largeTokensDiscarded)
    implements CborSerializable {}
