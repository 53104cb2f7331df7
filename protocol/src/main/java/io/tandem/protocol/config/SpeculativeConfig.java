package io.tandem.protocol.config;

import com.typesafe.config.Config;
import io.tandem.protocol.CborSerializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The knobs of Speculative Thinking (DESIGN.md, "The state machine"), named after the paper's
 * YAML keys. Immutable; build variants with {@link #toBuilder()} or {@link #withOverrides(Map)}.
 *
 * <p>Loading: {@link PaperConfigLoader} reads the paper's YAML (and the {@code config} object of a
 * JSON case file); {@link #fromHocon(Config)} reads {@code tandem.speculative} from HOCON.
 *
 * @param triggerTokens {@code TRIGGER_TOKENS}: texts that end a draft and call for a decision
 * @param verifyKeywords {@code TARGET_VALIDATION_KEYWORDS.verify}: ask the large model to verify
 * @param negativeKeywords {@code TARGET_VALIDATION_KEYWORDS.negative}
 * @param positiveKeywords {@code TARGET_VALIDATION_KEYWORDS.positive}
 * @param helpThinkWord {@code help_think_word}: injected before each look-ahead; null for none
 * @param helpRecapWords {@code help_recap_words}: injected before a recap
 * @param chooseLarge {@code choose_large}: always keep the large model's step
 * @param notReasoning {@code not_reasoning}: the small model does not reason; take over at every
 *     trigger, even a neutral one
 * @param maxTargetTokens {@code max_target_tokens}: length of a look-ahead and of a takeover
 * @param begin {@code begin}: the large model writes the opening
 * @param beginTokenNum {@code begin_token_num}: length of that opening
 * @param originalRecapTokenNum {@code original_recap_token_num}: first recap budget, and the length
 *     of every verify continuation
 * @param recapAfterNegativeNum {@code recap_after_negative_num}: negative steps before the first
 *     recap
 * @param addEachRecap {@code add_each_recap}: recap budget growth per recap
 * @param addEachNeg {@code add_each_neg}: recap threshold growth per recap
 * @param maxRecapTokenNum {@code max_recap_token_num}: cap on the recap budget
 * @param maxNegativeNum {@code max_negative_num}: cap on the recap threshold
 * @param timeOut {@code time_out}: seconds before a generation ends with {@code timeout}; <= 0 for
 *     none
 * @param keepNeutralLookahead Tandem's {@code keep_neutral_lookahead}: keep a neutral look-ahead
 *     up to its first trigger instead of discarding it (off = the paper's behaviour)
 */
public record SpeculativeConfig(
    List<String> triggerTokens,
    List<String> verifyKeywords,
    List<String> negativeKeywords,
    List<String> positiveKeywords,
    String helpThinkWord,
    String helpRecapWords,
    boolean chooseLarge,
    boolean notReasoning,
    int maxTargetTokens,
    boolean begin,
    int beginTokenNum,
    int originalRecapTokenNum,
    int recapAfterNegativeNum,
    int addEachRecap,
    int addEachNeg,
    int maxRecapTokenNum,
    int maxNegativeNum,
    double timeOut,
    boolean keepNeutralLookahead)
    implements CborSerializable {

  private static final SpeculativeConfig PAPER_DEFAULTS =
      new SpeculativeConfig(
          List.of("\n\n"),
          List.of("verify", "think again", "recap", "check"),
          List.of("wait", "alternatively", "hold on", "another"),
          List.of("yeah", "yes", "final answer", "confident"),
          null,
          "Let me check whether there are some wrong steps:",
          true,
          false,
          20,
          false,
          100,
          125,
          15,
          25,
          5,
          200,
          30,
          -1,
          false);

  public SpeculativeConfig {
    Builder.validate(
        "speculative config",
        UnaryOperator.identity(),
        triggerTokens,
        verifyKeywords,
        negativeKeywords,
        positiveKeywords,
        helpRecapWords,
        maxTargetTokens,
        beginTokenNum,
        originalRecapTokenNum,
        recapAfterNegativeNum,
        addEachRecap,
        addEachNeg,
        maxRecapTokenNum,
        maxNegativeNum,
        timeOut);
    triggerTokens = List.copyOf(triggerTokens);
    verifyKeywords = List.copyOf(verifyKeywords);
    negativeKeywords = List.copyOf(negativeKeywords);
    positiveKeywords = List.copyOf(positiveKeywords);
  }

  /** The values of the paper's {@code 1b_32b.yml} (DESIGN.md), with Tandem's switches off. */
  public static SpeculativeConfig paperDefaults() {
    return PAPER_DEFAULTS;
  }

  /** Reads {@code tandem.speculative} from HOCON, over the defaults in reference.conf. */
  public static SpeculativeConfig fromHocon(Config config) {
    return HoconConfigLoader.load(config);
  }

  /**
   * This config with per-request overrides (the paper's YAML keys, e.g. {@code
   * {"max_target_tokens": 30}}); errors name {@code "request"}.
   */
  public SpeculativeConfig withOverrides(Map<String, ?> overrides) {
    return PaperConfigLoader.applyOverrides(this, overrides, "request");
  }

  /** True when {@code time_out} is set. */
  public boolean hasTimeOut() {
    return timeOut > 0;
  }

  /** The negative keywords followed by the verify keywords: what counts against a step. */
  public List<String> negativeAndVerifyKeywords() {
    List<String> all = new ArrayList<>(negativeKeywords);
    all.addAll(verifyKeywords);
    return all;
  }

  public Builder toBuilder() {
    return new Builder(this);
  }

  /** A mutable copy used by the loaders; {@link #build(String, UnaryOperator)} validates. */
  public static final class Builder {
    public List<String> triggerTokens;
    public List<String> verifyKeywords;
    public List<String> negativeKeywords;
    public List<String> positiveKeywords;
    public String helpThinkWord;
    public String helpRecapWords;
    public boolean chooseLarge;
    public boolean notReasoning;
    public int maxTargetTokens;
    public boolean begin;
    public int beginTokenNum;
    public int originalRecapTokenNum;
    public int recapAfterNegativeNum;
    public int addEachRecap;
    public int addEachNeg;
    public int maxRecapTokenNum;
    public int maxNegativeNum;
    public double timeOut;
    public boolean keepNeutralLookahead;

    Builder(SpeculativeConfig c) {
      triggerTokens = c.triggerTokens;
      verifyKeywords = c.verifyKeywords;
      negativeKeywords = c.negativeKeywords;
      positiveKeywords = c.positiveKeywords;
      helpThinkWord = c.helpThinkWord;
      helpRecapWords = c.helpRecapWords;
      chooseLarge = c.chooseLarge;
      notReasoning = c.notReasoning;
      maxTargetTokens = c.maxTargetTokens;
      begin = c.begin;
      beginTokenNum = c.beginTokenNum;
      originalRecapTokenNum = c.originalRecapTokenNum;
      recapAfterNegativeNum = c.recapAfterNegativeNum;
      addEachRecap = c.addEachRecap;
      addEachNeg = c.addEachNeg;
      maxRecapTokenNum = c.maxRecapTokenNum;
      maxNegativeNum = c.maxNegativeNum;
      timeOut = c.timeOut;
      keepNeutralLookahead = c.keepNeutralLookahead;
    }

    public SpeculativeConfig build() {
      return build("speculative config", UnaryOperator.identity());
    }

    /**
     * Validates and builds; errors name {@code source} and the key as {@code keyStyle} spells the
     * YAML key (so that HOCON errors say {@code max-target-tokens}).
     */
    public SpeculativeConfig build(String source, UnaryOperator<String> keyStyle) {
      validate(
          source,
          keyStyle,
          triggerTokens,
          verifyKeywords,
          negativeKeywords,
          positiveKeywords,
          helpRecapWords,
          maxTargetTokens,
          beginTokenNum,
          originalRecapTokenNum,
          recapAfterNegativeNum,
          addEachRecap,
          addEachNeg,
          maxRecapTokenNum,
          maxNegativeNum,
          timeOut);
      return new SpeculativeConfig(
          triggerTokens,
          verifyKeywords,
          negativeKeywords,
          positiveKeywords,
          helpThinkWord,
          helpRecapWords,
          chooseLarge,
          notReasoning,
          maxTargetTokens,
          begin,
          beginTokenNum,
          originalRecapTokenNum,
          recapAfterNegativeNum,
          addEachRecap,
          addEachNeg,
          maxRecapTokenNum,
          maxNegativeNum,
          timeOut,
          keepNeutralLookahead);
    }

    @SuppressWarnings("ParameterNumber")
    static void validate(
        String source,
        UnaryOperator<String> keyStyle,
        List<String> triggerTokens,
        List<String> verifyKeywords,
        List<String> negativeKeywords,
        List<String> positiveKeywords,
        String helpRecapWords,
        int maxTargetTokens,
        int beginTokenNum,
        int originalRecapTokenNum,
        int recapAfterNegativeNum,
        int addEachRecap,
        int addEachNeg,
        int maxRecapTokenNum,
        int maxNegativeNum,
        double timeOut) {
      strings(source, keyStyle.apply("TRIGGER_TOKENS"), triggerTokens);
      if (triggerTokens.isEmpty()) {
        String key = keyStyle.apply("TRIGGER_TOKENS");
        throw new InvalidConfigException(source, key, key + " must list at least one trigger");
      }
      strings(source, keyStyle.apply("TARGET_VALIDATION_KEYWORDS.verify"), verifyKeywords);
      strings(source, keyStyle.apply("TARGET_VALIDATION_KEYWORDS.negative"), negativeKeywords);
      strings(source, keyStyle.apply("TARGET_VALIDATION_KEYWORDS.positive"), positiveKeywords);
      if (helpRecapWords == null) {
        String key = keyStyle.apply("help_recap_words");
        throw new InvalidConfigException(source, key, key + " must be a string, got null");
      }
      atLeast(source, keyStyle.apply("max_target_tokens"), maxTargetTokens, 1);
      atLeast(source, keyStyle.apply("begin_token_num"), beginTokenNum, 1);
      atLeast(source, keyStyle.apply("original_recap_token_num"), originalRecapTokenNum, 1);
      atLeast(source, keyStyle.apply("recap_after_negative_num"), recapAfterNegativeNum, 0);
      atLeast(source, keyStyle.apply("add_each_recap"), addEachRecap, 0);
      atLeast(source, keyStyle.apply("add_each_neg"), addEachNeg, 0);
      atLeast(source, keyStyle.apply("max_recap_token_num"), maxRecapTokenNum, 1);
      atLeast(source, keyStyle.apply("max_negative_num"), maxNegativeNum, 0);
      if (Double.isNaN(timeOut) || Double.isInfinite(timeOut)) {
        String key = keyStyle.apply("time_out");
        throw new InvalidConfigException(
            source, key, key + " must be a number of seconds (<= 0 for none), got " + timeOut);
      }
    }

    private static void atLeast(String source, String key, int value, int min) {
      if (value < min) {
        throw new InvalidConfigException(
            source, key, key + " must be >= " + min + ", got " + value);
      }
    }

    private static void strings(String source, String key, List<String> values) {
      if (values == null) {
        throw new InvalidConfigException(source, key, key + " must be a list of strings, got null");
      }
      for (String v : values) {
        // An empty keyword would match everywhere (Python's "abc".count("") is 4).
        if (v == null || v.isEmpty()) {
          throw new InvalidConfigException(
              source,
              key,
              key + " must not contain empty or null entries, got "
                  + values.stream().map(x -> x == null ? "null" : "\"" + x + "\"").toList());
        }
      }
    }
  }
}
