package io.tandem.protocol.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import java.util.function.Function;

/** Reads {@code tandem.speculative} from HOCON, over the defaults in protocol's reference.conf. */
final class HoconConfigLoader {
  static final String PATH = "tandem.speculative";

  private HoconConfigLoader() {}

  static SpeculativeConfig load(Config root) {
    Config user = root.hasPath(PATH) ? root.getConfig(PATH) : ConfigFactory.empty();
    KnownKeys.check(root, PATH);
    Config c = StrictConfig.of(PATH,
        user.withFallback(
            ConfigFactory.defaultReference(HoconConfigLoader.class.getClassLoader()).getConfig(PATH)));
    SpeculativeConfig.Builder b = SpeculativeConfig.paperDefaults().toBuilder();
    for (ConfigKey key : ConfigKey.values()) key.set(b, value(c, key));
    String source = user.isEmpty() ? "reference.conf" : origin(user.root());
    try {
      return b.build(source, HoconConfigLoader::hoconKey);
    } catch (InvalidConfigException e) {
      // Named by where the value at fault came from (a -D option), not the section's merged origins.
      String key = e.key() == null ? null : e.key().substring(PATH.length() + 1);
      if (key == null || !user.hasPath(key) || e.source() == null) throw e;
      throw e.as(origin(user.getValue(key)), k -> k);
    }
  }

  private static Object value(Config c, ConfigKey key) {
    String k = key.hocon;
    // A null where a value is needed is the file's mistake, named with its place (exit 2), as a value of the wrong type is
    // (tester53e: exit 1, without the file, the line or the full key); "null" from a -D option is a null too.
    if (key.type != ConfigKey.Type.OPTIONAL_STRING && (c.getIsNull(k) || nullFromSystemProperties(c, k)))
      throw new InvalidConfigException(nullOrigin(c, k), PATH + "." + k, ConfigSection.mistake(PATH + "." + k, switch (key.type) {
        case STRINGS -> "a list of strings, like [a, b]";
        case STRING -> "a string (it cannot be turned off)";
        case BOOLEAN -> "true or false (on or off)";
        case INTEGER -> "a whole number";
        case SECONDS -> "a number of seconds or a duration (<= 0 for none)";
        case OPTIONAL_STRING -> "a string, or null for none";
      }, "null"));
    com.typesafe.config.ConfigList list = key.type == ConfigKey.Type.STRINGS ? listOrNull(c, k) : null;
    if (list != null)
      for (int i = 0; i < list.size(); i++) {
        ConfigValue v = list.get(i);
        // A null entry, written in a file or as -D...KEY.0=null (the text "null" to Typesafe Config), is named with its index
        // (tester53h: "must be list of string, got a list"; from -D, the trigger "null" replaced "\n\n").
        boolean fromD = v.origin().description().contains("system properties");
        // From -D options the entries are numbered as written (.3, .7), which Typesafe Config closes up: no index is named
        // then (tester53i: .1 was said as [0]).
        if (v.valueType() == com.typesafe.config.ConfigValueType.NULL || (fromD && "null".equals(v.unwrapped())))
          throw new InvalidConfigException(origin(v), PATH + "." + k, ConfigSection.mistake(fromD ? "an entry of " + PATH + "."
              + k + " (-D" + PATH + "." + k + ".N)" : PATH + "." + k + "[" + i + "]", "a string", "null"));
      }
    return switch (key.type) {
      case STRINGS -> read(c, k, c::getStringList);
      case STRING -> read(c, k, c::getString);
      // -Dtandem.speculative.help-think-word=null is the string "null" to Typesafe Config, which reads every system
      // property as a string: the null that reference.conf says turns it off (tester53c: "null" was injected).
      case OPTIONAL_STRING -> c.getIsNull(k) || nullFromSystemProperties(c, k) ? null : read(c, k, c::getString);
      case BOOLEAN -> read(c, k, c::getBoolean);
      case INTEGER -> read(c, k, c::getInt);
      case SECONDS -> timeOut(c, k);
    };
  }

  /** {@code max_target_tokens} → {@code tandem.speculative.max-target-tokens}. */
  private static String hoconKey(String paperKey) {
    return PATH + "." + ConfigKey.byPaper(paperKey).hocon;
  }

  /**
   * A number of seconds (also as a -D option gives it, a string), or a duration ("5 minutes",
   * "300s", "0.05d": 72 minutes, as Typesafe Config reads it, not 0.05 s as Java's number parser would).
   */
  private static double timeOut(Config c, String key) {
    String seconds = StrictConfig.numberText(c.getValue(key));
    boolean plain = seconds != null && StrictConfig.DECIMAL.matcher(seconds).matches();
    double value = plain ? Double.parseDouble(seconds) : read(c, key, p -> c.getDuration(p).toNanos() / 1e9);
    // A number that is not 0 read as 0 would be no time-out at all: one too close to 0 for a double
    // ("1e-400"), or a duration under Typesafe Config's nanosecond ("1e-10s", "0.1ns").
    Object given = c.getValue(key).unwrapped();
    String number = plain ? seconds : given instanceof String s ? s.strip().replaceFirst("\\s*[A-Za-z]+$", "") : null;
    if (value == 0 && number != null && StrictConfig.DECIMAL.matcher(number).matches()
        && io.tandem.protocol.text.Decimal.notZero(number))
      throw new InvalidConfigException(origin(c.getValue(key)), PATH + "." + key, PATH + "." + key + " must be a number of"
          + " seconds or a duration (<= 0 for none), got " + (plain ? seconds : given) + ", which is not 0 but reads as 0"
          + " (under a nanosecond, or too close to 0 for a 64-bit float); write 0 for none, or a longer time-out");
    return value;
  }

  private static <T> T read(Config c, String key, Function<String, T> getter) {
    try {
      return getter.apply(key);
    } catch (ConfigException.WrongType | ConfigException.BadValue e) {
      throw new InvalidConfigException(origin(c.getValue(key)), PATH + "." + key, ConfigSection.describe(PATH, e, c));
    } catch (InvalidConfigException e) {
      // Refused by StrictConfig (a fraction where a whole number goes), named by its full key: this loader names the origin too.
      throw new InvalidConfigException(origin(c.getValue(key)), PATH + "." + key, e.getMessage());
    }
  }

  /** {@code k} as a list (one given as -D...KEY.0=a, an object of numbered keys, too), or null when it is no list. */
  private static com.typesafe.config.ConfigList listOrNull(Config c, String k) {
    try {
      return c.getList(k);
    } catch (ConfigException.WrongType notAList) {
      return null;
    }
  }

  /**
   * {@code -Dtandem.speculative.KEY=null}: Typesafe Config reads every system property as a string,
   * so the null that reference.conf says turns a word off arrives as the text "null" (tester53c: it
   * was injected as a think word).
   */
  private static boolean nullFromSystemProperties(Config c, String k) {
    ConfigValue v = c.getValue(k);
    return "null".equals(v.unwrapped()) && v.origin().description().contains("system properties");
  }

  /** Where the null at {@code k} was written (a file and line, system properties), from its parent, which holds it. */
  private static String nullOrigin(Config c, String k) {
    java.util.List<String> path = com.typesafe.config.ConfigUtil.splitPath(k);
    ConfigObject parent = path.size() == 1 ? c.root() : c.getObject(com.typesafe.config.ConfigUtil.joinPath(path.subList(0,
        path.size() - 1)));
    ConfigValue v = parent.get(path.get(path.size() - 1));
    return v == null ? "config" : origin(v);
  }

  private static String origin(ConfigValue v) {
    return v.origin().description();
  }

  private static String origin(ConfigObject o) {
    return o.origin().description();
  }
}
