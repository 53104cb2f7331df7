package io.tandem.protocol.config;

import com.typesafe.config.Config;
import io.tandem.protocol.CborSerializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The knobs of Speculative Thinking (docs/ARCHITECTURE.md, "The algorithm"), named after the paper's
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

  /**
   * Validates every value; errors name the paper's key (builders restate them as their source
   * spells keys).
   *
   * @throws InvalidConfigException when a list is null or holds an empty entry (an empty keyword
   *     would match everywhere), no trigger is given, {@code help_recap_words} is null, a count is
   *     below its minimum or {@code time_out} is not finite or over {@link ConfigSection#LONGEST_DELAY}
   */
  public SpeculativeConfig {
    strings(ConfigKey.TRIGGER_TOKENS, triggerTokens);
    if (triggerTokens.isEmpty()) throw bad(ConfigKey.TRIGGER_TOKENS, "must list at least one trigger");
    strings(ConfigKey.VERIFY_KEYWORDS, verifyKeywords);
    strings(ConfigKey.NEGATIVE_KEYWORDS, negativeKeywords);
    strings(ConfigKey.POSITIVE_KEYWORDS, positiveKeywords);
    if (helpRecapWords == null) throw bad(ConfigKey.HELP_RECAP_WORDS, "must be a string, got null");
    whole(ConfigKey.HELP_RECAP_WORDS, helpRecapWords);
    if (helpThinkWord != null) whole(ConfigKey.HELP_THINK_WORD, helpThinkWord);
    atLeast(ConfigKey.MAX_TARGET_TOKENS, maxTargetTokens, 1);
    atLeast(ConfigKey.BEGIN_TOKEN_NUM, beginTokenNum, 1);
    atLeast(ConfigKey.ORIGINAL_RECAP_TOKEN_NUM, originalRecapTokenNum, 1);
    atLeast(ConfigKey.RECAP_AFTER_NEGATIVE_NUM, recapAfterNegativeNum, 0);
    atLeast(ConfigKey.ADD_EACH_RECAP, addEachRecap, 0);
    atLeast(ConfigKey.ADD_EACH_NEG, addEachNeg, 0);
    atLeast(ConfigKey.MAX_RECAP_TOKEN_NUM, maxRecapTokenNum, 1);
    atLeast(ConfigKey.MAX_NEGATIVE_NUM, maxNegativeNum, 0);
    if (Double.isNaN(timeOut) || Double.isInfinite(timeOut)) {
      throw bad(ConfigKey.TIME_OUT, "must be a number of seconds (<= 0 for none), got "
          + (Double.isNaN(timeOut) ? "NaN" : "a number beyond a 64-bit float's range"));
    }
    // The session schedules it: beyond Akka's longest delay the timer fails and the session with it.
    if (timeOut > ConfigSection.LONGEST_DELAY.toSeconds()) {
      throw bad(ConfigKey.TIME_OUT, "must be a number of seconds, <= 0 for none and at most " + ConfigSection.LONGEST_DELAY_SAID
          + ", got " + io.tandem.protocol.JsonInteger.show(com.fasterxml.jackson.databind.node.DoubleNode.valueOf(timeOut)));
    }
    triggerTokens = List.copyOf(triggerTokens);
    verifyKeywords = List.copyOf(verifyKeywords);
    negativeKeywords = List.copyOf(negativeKeywords);
    positiveKeywords = List.copyOf(positiveKeywords);
  }

  private static InvalidConfigException bad(ConfigKey key, String complaint) {
    return InvalidConfigException.badValue("speculative config", key.paper, complaint);
  }

  private static void atLeast(ConfigKey key, int value, int min) {
    if (value < min) throw bad(key, "must be >= " + min + ", got " + value);
  }

  private static void strings(ConfigKey key, List<String> values) {
    if (values == null) throw bad(key, "must be a list of strings, got null");
    for (String v : values) {
      // An empty keyword would match everywhere (Python's "abc".count("") is 4).
      if (v == null || v.isEmpty()) {
        throw bad(key, "must not contain empty or null entries, got "
            + values.stream().map(x -> x == null ? "null" : "\"" + x + "\"").toList());
      }
      whole(key, v);
    }
  }

  /**
   * Refuses a lone UTF-16 surrogate ({@code "\\ud83d"} without its pair: YAML and HOCON take the
   * escape), which no UTF-8 text holds: taken, it was written as {@code ?} or failed a trace's write
   * after the generation (tester53c), where a request's JSON with one is a 400.
   */
  private static void whole(ConfigKey key, String value) {
    int lone = io.tandem.protocol.text.LoneSurrogates.firstIn(value);
    if (lone >= 0)
      throw bad(key, "holds a lone UTF-16 surrogate (\\u" + Integer.toHexString(value.charAt(lone)).toUpperCase(java.util.Locale.ROOT)
          + " without its pair), which no text can hold; write the character whole (an emoji as itself, or as its two"
          + " \\u escapes together)");
  }

  /** The names a speculative config takes at its top level, as the paper's YAML writes them ({@code max_target_tokens}, ...). */
  public static java.util.List<String> keyNames() {
    return java.util.List.copyOf(ConfigKey.paperTopLevel());
  }

  /**
   * Whether {@code key}, a name of {@link #keyNames()}, takes null as a value of its own: {@code help_think_word}
   * (no word) and {@code time_out} (no time-out), as in the paper's YAML files. Elsewhere a null is no value.
   */
  public static boolean takesNull(String key) {
    for (ConfigKey k : ConfigKey.values())
      if (k.paper.equals(key)) return k.type == ConfigKey.Type.OPTIONAL_STRING || k.type == ConfigKey.Type.SECONDS;
    return false;
  }

  /** The values of the paper's {@code 1b_32b.yml}, with Tandem's switches off. */
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

  /** A mutable copy of this config, for a loader or a test to change and {@link Builder#build} again. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** A mutable copy used by the loaders; {@link #build(String, UnaryOperator)} validates. */
  public static final class Builder {
    /** The record's components, by the same names; see {@link SpeculativeConfig}. */
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

    /**
     * Validates and builds; errors name the paper's keys.
     *
     * @throws InvalidConfigException when a value is out of range (see the record's constructor)
     */
    public SpeculativeConfig build() {
      return build("speculative config", UnaryOperator.identity());
    }

    /**
     * Validates and builds; errors name {@code source} and the key as {@code keyStyle} spells the
     * YAML key (so that HOCON errors say {@code max-target-tokens}).
     *
     * @throws InvalidConfigException when a value is out of range (see the record's constructor)
     */
    public SpeculativeConfig build(String source, UnaryOperator<String> keyStyle) {
      try {
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
      } catch (InvalidConfigException e) {
        throw e.as(source, keyStyle);
      }
    }
  }
}
