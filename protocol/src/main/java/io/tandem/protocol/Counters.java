package io.tandem.protocol;

/**
 * What a generation did: triggers met, look-aheads, takeovers (large-model steps after a trigger),
 * verifies, recaps, negative steps, output tokens by {@link Author}, tokens generated but not kept
 * (a discarded look-ahead, or the takeover that lost to it), and optional large-model steps skipped
 * because the large model's queue was too long ({@code tandem.session.skip-takeover-above}). Every
 * count is a number of events or of tokens, never negative; the record is built in one place,
 * {@link Tally}.
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

  /** Counters of a generation that skipped no takeover (expected values in tests read this way). */
  public Counters(int triggers, int lookaheads, int takeovers, int verifies, int recaps, int negatives,
      int smallTokens, int largeTokens, int injectedTokens, int smallTokensDiscarded, int largeTokensDiscarded) {
    this(triggers, lookaheads, takeovers, verifies, recaps, negatives, smallTokens, largeTokens, injectedTokens,
        smallTokensDiscarded, largeTokensDiscarded, 0);
  }

  /** Nothing done yet. */
  public static final Counters ZERO = new Tally().counters();

  /** These counters with {@code n} more output tokens written by {@code author}. */
  public Counters plusTokens(Author author, int n) {
    return tally().tokens(author, n).counters();
  }

  /** A tally that starts from these counts. */
  public Tally tally() {
    return new Tally(this);
  }

  /** The counts of a generation under way, mutable; {@link #counters()} takes a snapshot. */
  public static final class Tally {
    /** Incremented by the one who counts, e.g. {@code tally.triggers++}. */
    public int triggers;
    public int lookaheads;
    public int takeovers;
    public int verifies;
    public int recaps;
    public int negatives;
    public int smallTokens;
    public int largeTokens;
    public int injectedTokens;
    public int smallTokensDiscarded;
    public int largeTokensDiscarded;
    public int takeoversSkipped;

    /** All zero. */
    public Tally() {}

    private Tally(Counters c) {
      triggers = c.triggers;
      lookaheads = c.lookaheads;
      takeovers = c.takeovers;
      verifies = c.verifies;
      recaps = c.recaps;
      negatives = c.negatives;
      smallTokens = c.smallTokens;
      largeTokens = c.largeTokens;
      injectedTokens = c.injectedTokens;
      smallTokensDiscarded = c.smallTokensDiscarded;
      largeTokensDiscarded = c.largeTokensDiscarded;
      takeoversSkipped = c.takeoversSkipped;
    }

    /** Counts {@code n} output tokens written by {@code author}; returns this tally. */
    public Tally tokens(Author author, int n) {
      switch (author) {
        case small -> smallTokens += n;
        case large -> largeTokens += n;
        case injected -> injectedTokens += n;
      }
      return this;
    }

    /** The counts so far. */
    public Counters counters() {
      return new Counters(triggers, lookaheads, takeovers, verifies, recaps, negatives, smallTokens, largeTokens,
          injectedTokens, smallTokensDiscarded, largeTokensDiscarded, takeoversSkipped);
    }
  }
}
