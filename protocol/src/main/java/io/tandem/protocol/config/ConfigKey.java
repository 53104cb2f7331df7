package io.tandem.protocol.config;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * The speculative config's keys, in one table: each parameter's key in the paper's YAML files
 * ({@code speculative/config/*.yml} of the paper's repository), its key under {@code
 * tandem.speculative} in HOCON, the type of its value and the builder field it sets. Both loaders
 * read it, and errors name keys through it.
 */
enum ConfigKey {
  TRIGGER_TOKENS("TRIGGER_TOKENS", "trigger-tokens", Type.STRINGS, (b, v) -> b.triggerTokens = strings(v)),
  VERIFY_KEYWORDS(ConfigKey.KEYWORDS + ".verify", "verify-keywords", Type.STRINGS, (b, v) -> b.verifyKeywords = strings(v)),
  NEGATIVE_KEYWORDS(ConfigKey.KEYWORDS + ".negative", "negative-keywords", Type.STRINGS,
      (b, v) -> b.negativeKeywords = strings(v)),
  POSITIVE_KEYWORDS(ConfigKey.KEYWORDS + ".positive", "positive-keywords", Type.STRINGS,
      (b, v) -> b.positiveKeywords = strings(v)),
  HELP_THINK_WORD("help_think_word", "help-think-word", Type.OPTIONAL_STRING, (b, v) -> b.helpThinkWord = (String) v),
  HELP_RECAP_WORDS("help_recap_words", "help-recap-words", Type.STRING, (b, v) -> b.helpRecapWords = (String) v),
  CHOOSE_LARGE("choose_large", "choose-large", Type.BOOLEAN, (b, v) -> b.chooseLarge = (Boolean) v),
  NOT_REASONING("not_reasoning", "not-reasoning", Type.BOOLEAN, (b, v) -> b.notReasoning = (Boolean) v),
  MAX_TARGET_TOKENS("max_target_tokens", "max-target-tokens", Type.INTEGER, (b, v) -> b.maxTargetTokens = (Integer) v),
  BEGIN("begin", "begin", Type.BOOLEAN, (b, v) -> b.begin = (Boolean) v),
  BEGIN_TOKEN_NUM("begin_token_num", "begin-token-num", Type.INTEGER, (b, v) -> b.beginTokenNum = (Integer) v),
  ORIGINAL_RECAP_TOKEN_NUM("original_recap_token_num", "original-recap-token-num", Type.INTEGER,
      (b, v) -> b.originalRecapTokenNum = (Integer) v),
  RECAP_AFTER_NEGATIVE_NUM("recap_after_negative_num", "recap-after-negative-num", Type.INTEGER,
      (b, v) -> b.recapAfterNegativeNum = (Integer) v),
  ADD_EACH_RECAP("add_each_recap", "add-each-recap", Type.INTEGER, (b, v) -> b.addEachRecap = (Integer) v),
  ADD_EACH_NEG("add_each_neg", "add-each-neg", Type.INTEGER, (b, v) -> b.addEachNeg = (Integer) v),
  MAX_RECAP_TOKEN_NUM("max_recap_token_num", "max-recap-token-num", Type.INTEGER, (b, v) -> b.maxRecapTokenNum = (Integer) v),
  MAX_NEGATIVE_NUM("max_negative_num", "max-negative-num", Type.INTEGER, (b, v) -> b.maxNegativeNum = (Integer) v),
  TIME_OUT("time_out", "time-out", Type.SECONDS, (b, v) -> b.timeOut = (Double) v),
  KEEP_NEUTRAL_LOOKAHEAD("keep_neutral_lookahead", "keep-neutral-lookahead", Type.BOOLEAN,
      (b, v) -> b.keepNeutralLookahead = (Boolean) v);

  /** The paper's one nested key: {@code TARGET_VALIDATION_KEYWORDS: {verify, negative, positive}}. */
  static final String KEYWORDS = "TARGET_VALIDATION_KEYWORDS";

  /** What a value must be. */
  enum Type {
    /** A list of strings. */
    STRINGS,
    /** A string. */
    STRING,
    /** A string, or null for none. */
    OPTIONAL_STRING,
    BOOLEAN,
    INTEGER,
    /** A number of seconds (in HOCON also a duration such as {@code "5 minutes"}); null for none. */
    SECONDS
  }

  /** As the paper's files spell it; a keyword group as {@code TARGET_VALIDATION_KEYWORDS.verify}. */
  final String paper;
  /** As {@code tandem.speculative} spells it, without that prefix. */
  final String hocon;
  final Type type;
  private final BiConsumer<SpeculativeConfig.Builder, Object> setter;

  ConfigKey(String paper, String hocon, Type type, BiConsumer<SpeculativeConfig.Builder, Object> setter) {
    this.paper = paper;
    this.hocon = hocon;
    this.type = type;
    this.setter = setter;
  }

  /** Sets this key's field of {@code b} to {@code value}, already of {@link #type}'s Java type. */
  void set(SpeculativeConfig.Builder b, Object value) {
    setter.accept(b, value);
  }

  /** The key the paper spells {@code paper}; null when there is none. */
  static ConfigKey byPaper(String paper) {
    for (ConfigKey k : values()) if (k.paper.equals(paper)) return k;
    return null;
  }

  /** The keys a paper YAML file may have at its top level (17: the keyword groups nest under one). */
  static List<String> paperTopLevel() {
    List<String> keys = new ArrayList<>();
    for (ConfigKey k : values()) {
      String top = k.paper.startsWith(KEYWORDS + ".") ? KEYWORDS : k.paper;
      if (!keys.contains(top)) keys.add(top);
    }
    return keys;
  }

  /** The keyword groups under {@code TARGET_VALIDATION_KEYWORDS}: verify, negative, positive. */
  static List<String> keywordGroups() {
    List<String> groups = new ArrayList<>();
    for (ConfigKey k : values()) {
      if (k.paper.startsWith(KEYWORDS + ".")) groups.add(k.paper.substring(KEYWORDS.length() + 1));
    }
    return groups;
  }

  /** The keys under {@code tandem.speculative}. */
  static List<String> hoconKeys() {
    List<String> keys = new ArrayList<>();
    for (ConfigKey k : values()) keys.add(k.hocon);
    return keys;
  }

  @SuppressWarnings("unchecked")
  private static List<String> strings(Object v) {
    return (List<String>) v;
  }
}
