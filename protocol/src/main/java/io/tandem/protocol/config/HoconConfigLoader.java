package io.tandem.protocol.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/** Reads {@code tandem.speculative} from HOCON, over the defaults in protocol's reference.conf. */
final class HoconConfigLoader {
  static final String PATH = "tandem.speculative";

  private static final List<String> KEYS =
      List.of(
          "trigger-tokens",
          "verify-keywords",
          "negative-keywords",
          "positive-keywords",
          "help-think-word",
          "help-recap-words",
          "choose-large",
          "not-reasoning",
          "max-target-tokens",
          "begin",
          "begin-token-num",
          "original-recap-token-num",
          "recap-after-negative-num",
          "add-each-recap",
          "add-each-neg",
          "max-recap-token-num",
          "max-negative-num",
          "time-out",
          "keep-neutral-lookahead");

  private HoconConfigLoader() {}

  static SpeculativeConfig load(Config root) {
    Config user = root.hasPath(PATH) ? root.getConfig(PATH) : ConfigFactory.empty();
    for (String key : user.root().keySet()) {
      if (!KEYS.contains(key)) {
        throw new InvalidConfigException(
            origin(user.root().get(key)), PATH + "." + key, KeySuggestions.unknownKey(PATH + "." + key, KEYS.stream().map(k -> PATH + "." + k).toList()));
      }
    }
    Config c =
        user.withFallback(
            ConfigFactory.defaultReference(HoconConfigLoader.class.getClassLoader()).getConfig(PATH));
    SpeculativeConfig.Builder b = SpeculativeConfig.paperDefaults().toBuilder();
    b.triggerTokens = read(c, "trigger-tokens", c::getStringList);
    b.verifyKeywords = read(c, "verify-keywords", c::getStringList);
    b.negativeKeywords = read(c, "negative-keywords", c::getStringList);
    b.positiveKeywords = read(c, "positive-keywords", c::getStringList);
    b.helpThinkWord =
        c.getIsNull("help-think-word") ? null : read(c, "help-think-word", c::getString);
    b.helpRecapWords = read(c, "help-recap-words", c::getString);
    b.chooseLarge = read(c, "choose-large", c::getBoolean);
    b.notReasoning = read(c, "not-reasoning", c::getBoolean);
    b.maxTargetTokens = read(c, "max-target-tokens", c::getInt);
    b.begin = read(c, "begin", c::getBoolean);
    b.beginTokenNum = read(c, "begin-token-num", c::getInt);
    b.originalRecapTokenNum = read(c, "original-recap-token-num", c::getInt);
    b.recapAfterNegativeNum = read(c, "recap-after-negative-num", c::getInt);
    b.addEachRecap = read(c, "add-each-recap", c::getInt);
    b.addEachNeg = read(c, "add-each-neg", c::getInt);
    b.maxRecapTokenNum = read(c, "max-recap-token-num", c::getInt);
    b.maxNegativeNum = read(c, "max-negative-num", c::getInt);
    b.timeOut = timeOut(c);
    b.keepNeutralLookahead = read(c, "keep-neutral-lookahead", c::getBoolean);
    String source = user.isEmpty() ? "reference.conf" : origin(user.root());
    return b.build(source, HoconConfigLoader::hoconKey);
  }

  /** {@code max_target_tokens} → {@code tandem.speculative.max-target-tokens}. */
  private static String hoconKey(String paperKey) {
    String k =
        switch (paperKey) {
          case "TRIGGER_TOKENS" -> "trigger-tokens";
          case "TARGET_VALIDATION_KEYWORDS.verify" -> "verify-keywords";
          case "TARGET_VALIDATION_KEYWORDS.negative" -> "negative-keywords";
          case "TARGET_VALIDATION_KEYWORDS.positive" -> "positive-keywords";
          default -> paperKey.toLowerCase(Locale.ROOT).replace('_', '-');
        };
    return PATH + "." + k;
  }

  private static double timeOut(Config c) {
    ConfigValue v = c.getValue("time-out");
    if (v.valueType() == ConfigValueType.NUMBER) {
      return c.getDouble("time-out");
    }
    // "5 minutes", "300s"
    return read(c, "time-out", p -> c.getDuration(p).toNanos() / 1e9);
  }

  private static <T> T read(Config c, String key, Function<String, T> getter) {
    try {
      return getter.apply(key);
    } catch (ConfigException.WrongType | ConfigException.BadValue e) {
      throw new InvalidConfigException(
          origin(c.getValue(key)), PATH + "." + key, PATH + "." + key + ": " + e.getMessage());
    }
  }

  private static String origin(ConfigValue v) {
    return v.origin().description();
  }

  private static String origin(ConfigObject o) {
    return o.origin().description();
  }
}
