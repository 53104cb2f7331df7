package io.tandem.ops.eval;

/**
 * What one mode did over the problem set. Speeds are wall-clock over the whole run with the
 * given concurrency, as a server would see them.
 *
 * @param answered problems whose response has a boxed answer at all
 * @param avgTokens mean completion tokens per problem
 * @param tokensPerS completion tokens of all problems over the wall time
 * @param smallShare share of output tokens the small model wrote (the rest: the large model and injected text)
 */
public record ModeResult(
    String mode,
    int problems,
    int correct,
    int answered,
    int failed,
    double avgTokens,
    double tokensPerS,
    double problemsPerS,
    double takeoversPerProblem,
    double smallShare,
    double largeShare,
    double injectedShare,
    double wallSeconds) {

  public double accuracy() {
    return problems == 0 ? 0 : (double) correct / problems;
  }
}
