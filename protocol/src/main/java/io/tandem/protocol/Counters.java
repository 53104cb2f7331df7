package io.tandem.protocol;

/**
 * What a generation did: takeovers (large-model steps after a trigger), recaps, negative steps,
 * tokens by author, small-model tokens generated but discarded (look-aheads not kept), and
 * takeovers skipped because the large model's queue was too long
 * ({@code tandem.session.skip-takeover-above}).
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
    int largeTokensDiscarded,
    int takeoversSkipped)
    implements CborSerializable {

  /** Counters of a generation that skipped no takeover. */
  public Counters(int triggers, int lookaheads, int takeovers, int verifies, int recaps, int negatives,
      int smallTokens, int largeTokens, int injectedTokens, int smallTokensDiscarded, int largeTokensDiscarded) {
    this(triggers, lookaheads, takeovers, verifies, recaps, negatives, smallTokens, largeTokens, injectedTokens,
        smallTokensDiscarded, largeTokensDiscarded, 0);
  }
}
