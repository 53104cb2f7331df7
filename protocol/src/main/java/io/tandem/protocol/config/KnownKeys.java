package io.tandem.protocol.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Refuses a {@code tandem.*} setting that no reference.conf or application.conf on the class path
 * defines: Typesafe Config ignores keys nobody reads, so a misspelt {@code tandem.http.prot} would
 * otherwise leave the default in force without a word.
 */
public final class KnownKeys {
  /** The section Tandem owns; settings outside it (akka.*) are their libraries' business. */
  public static final String ROOT = "tandem";

  /**
   * Sections whose keys are another library's or the user's own: the worker dispatcher is an Akka
   * dispatcher; Akka's serializers, their bindings (class names), deployments and per-role settings
   * are named by whoever adds them.
   */
  private static final Set<String> FREE_FORM = Set.of("tandem.worker-dispatcher", "tandem.stream-dispatcher", "akka.actor.serializers",
      "akka.actor.serialization-bindings", "akka.actor.serialization-identifiers", "akka.actor.deployment",
      "akka.cluster.role",
      // Jackson's feature enums by name (tester61f: WRITE_DATE_KEYS_AS_TIMESTAMPS was taken for a misspelling).
      "akka.serialization.jackson.serialization-features", "akka.serialization.jackson.deserialization-features",
      "akka.serialization.jackson.mapper-features", "akka.serialization.jackson.json-parser-features",
      "akka.serialization.jackson.json-generator-features", "akka.serialization.jackson.stream-read-features",
      "akka.serialization.jackson.stream-write-features", "akka.serialization.jackson.json-read-features",
      "akka.serialization.jackson.json-write-features", "akka.serialization.jackson.visibility",
      // Phases and router names an application adds beside Akka's (tester61i).
      "akka.coordinated-shutdown.phases", "akka.actor.router.type-mapping");

  /** Where Akka's reference.conf copies {@code akka.stream.materializer} (a substitution), and from where. */
  private static final String ARTERY_MATERIALIZER = "akka.remote.artery.advanced.materializer.";
  private static final String STREAM_MATERIALIZER = "akka.stream.materializer.";

  /** The section whose children the user names after its serializer bindings (jackson-cbor2, my-binding). */
  private static final String JACKSON_BINDINGS = "akka.serialization.jackson";

  /**
   * JVM system properties read with {@link System#getProperty}, not settings; they reach the
   * configuration only because Typesafe Config overlays every system property: the launcher's
   * {@code tandem.home}, inference's {@code tandem.per-op-decode} and {@code tandem.onednn}, and ClusterCrashIT's
   * {@code tandem.it.extra-kills} (Maven hands {@code -D} options to the test JVM, where other
   * tests run commands in-process).
   */
  private static final Set<String> PROPERTIES = Set.of("tandem.home", "tandem.per-op-decode", "tandem.onednn", "tandem.it.extra-kills");

  /** Of {@link #PROPERTIES}, the switches, {@code true} or {@code false} (any case) and nothing else, with what they do. */
  private static final Map<String, String> SWITCHES = Map.of(
      "tandem.per-op-decode", "true: decode steps op by op, for comparisons; false: in one TorchScript call, the default",
      "tandem.onednn", "true: float32 matrices on the CPU through oneDNN, the default; false: through aten::linear");

  private KnownKeys() {}

  /** The JVM system properties under {@code tandem} that are not settings ({@link #PROPERTIES}). */
  public static Set<String> systemProperties() {
    return PROPERTIES;
  }

  /**
   * Checks every key under {@code tandem} of {@code config}.
   *
   * @throws InvalidConfigException {@code ORIGIN: unknown key 'KEY' (did you mean KNOWN?)} for a key
   *     no default configuration defines (a list's elements, {@code KEY.0}, count as the list's);
   *     every such key in one message, {@code ; } between them, each after its origin where that
   *     differs from the one before
   */
  public static void check(Config config) {
    check(config, ROOT);
  }

  /**
   * The settings under {@code section} of {@code config} (Akka's: {@code akka}) that no default
   * configuration defines and that are a small misspelling of one that does: the library reads only
   * the keys it knows, so {@code akka.cluster.split-brain-resolver.stable-afer} would leave the
   * default in force without a word. Keys that are near no known one (a dispatcher the user defines,
   * a free-form section's entries) are not listed: another library's settings are not refused.
   *
   * @return {@code ORIGIN: unknown key 'KEY' (did you mean KNOWN?)} for each, in the order they are written
   */
  public static List<String> nearMisses(Config config, String section) {
    Map<String, ConfigValue> knownPaths = knownPaths(section);
    if (knownPaths == null || !config.hasPath(section) || !(config.getValue(section) instanceof ConfigObject user))
      return List.of();
    Map<String, ConfigValue> userPaths = new TreeMap<>();
    paths(section, user, userPaths, false);
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, ConfigValue> e : written(userPaths)) {
      String key = e.getKey();
      if (knownOrInside(key, knownPaths) || inFreeForm(key)) continue;
      // Akka's reference.conf copies akka.stream.materializer into Artery's materializer: a typo there came twice, once
      // under a key the user never wrote (tester61f). The copy is the one written there from the same place.
      if (key.startsWith(ARTERY_MATERIALIZER)) {
        ConfigValue original = userPaths.get(STREAM_MATERIALIZER + key.substring(ARTERY_MATERIALIZER.length()));
        if (original != null && original.origin().description().equals(e.getValue().origin().description())
            && original.origin().lineNumber() == e.getValue().origin().lineNumber()) continue;
      }
      String parent = key.substring(0, key.lastIndexOf('.'));
      while (!parent.equals(section) && !knownPaths.containsKey(parent)) parent = parent.substring(0, parent.lastIndexOf('.'));
      String[] names = key.substring(parent.length() + 1).split("\\.", 2);
      // A section of the user's own with a type or an executor is a dispatcher it defines, named as it likes
      // (tester61f: external-dispatcher was taken for internal-dispatcher).
      String relative = (parent.equals(section) ? "" : parent.substring(section.length() + 1) + ".") + names[0];
      if (names.length > 1 && definesADispatcher(user.toConfig(), relative)) continue;
      // A section under akka.serialization.jackson is a binding's own, named after it (jackson-cbor2, jackson-json2).
      if (names.length > 1 && parent.equals(JACKSON_BINDINGS)) continue;
      String near = KeySuggestions.nearest(names[0], children(parent, knownPaths).stream().map(KnownKeys::nameOf).toList());
      if (near == null) continue;
      String meant = parent + "." + near + (names.length > 1 ? "." + names[1] : "");
      // A setting that exists, or a misspelt section whose next name is one of the section meant (akka.clster.role...,
      // tester61i): not a section of the user's that merely resembles one of Akka's.
      String nextName = names.length > 1 ? names[1].split("\\.", 2)[0] : null;
      if (!knownOrInside(meant, knownPaths) && !inFreeForm(meant)
          && (nextName == null || !knownPaths.containsKey(parent + "." + near + "." + nextName))) continue;
      out.add(e.getValue().origin().description() + ": " + KeySuggestions.unknownKey(key, meant, List.of()));
    }
    return out;
  }

  /** Whether {@code key} lies inside a free-form section ({@link #FREE_FORM}), whose names are whoever adds them. */
  private static boolean inFreeForm(String key) {
    for (String f : FREE_FORM) if (key.startsWith(f + ".")) return true;
    return false;
  }

  /** Whether the section {@code path} of {@code user} (relative to the section checked) is a dispatcher: a type or an executor. */
  private static boolean definesADispatcher(Config user, String path) {
    try {
      return user.getValue(path) instanceof ConfigObject o && (o.containsKey("type") || o.containsKey("executor"));
    } catch (com.typesafe.config.ConfigException e) {
      return false;
    }
  }

  /**
   * Every path under {@code section} that the files on the class path define (sections included),
   * or null when they define no such section. The files themselves: ConfigFactory.defaultReference
   * lays the system properties over them.
   */
  private static Map<String, ConfigValue> knownPaths(String section) {
    ClassLoader loader = KnownKeys.class.getClassLoader();
    Config defaults = ConfigFactory.parseResourcesAnySyntax(loader, "reference")
        .withFallback(ConfigFactory.parseResourcesAnySyntax(loader, "application"))
        .resolve(ConfigResolveOptions.defaults().setAllowUnresolved(true));
    if (!defaults.hasPath(section) || !(defaults.getValue(section) instanceof ConfigObject known)) return null;
    Map<String, ConfigValue> knownPaths = new TreeMap<>();
    paths(section, known, knownPaths, true);
    return knownPaths;
  }

  /**
   * In the order they are written (a file's lines; system properties, which have none, after them), so that a message
   * naming several reads as the file does (tester46b: line 3 was named before line 2).
   */
  private static List<Map.Entry<String, ConfigValue>> written(Map<String, ConfigValue> userPaths) {
    List<Map.Entry<String, ConfigValue>> written = new ArrayList<>(userPaths.entrySet());
    written.sort(java.util.Comparator.comparingInt((Map.Entry<String, ConfigValue> e) -> e.getValue().origin().lineNumber() < 0
        ? Integer.MAX_VALUE : e.getValue().origin().lineNumber()).thenComparing(Map.Entry::getKey));
    return written;
  }

  /** As {@link #check(Config)}, for the keys under {@code section} only. */
  static void check(Config config, String section) {
    if (!config.hasPath(section) || !(config.getValue(section) instanceof ConfigObject user)) return;
    Map<String, ConfigValue> knownPaths = knownPaths(section);
    if (knownPaths == null) return;
    Map<String, ConfigValue> userPaths = new TreeMap<>();
    paths(section, user, userPaths, false);
    List<String> leaves = knownPaths.keySet().stream().filter(k -> !(knownPaths.get(k) instanceof ConfigObject)).toList();
    String firstOrigin = null, firstKey = null, lastOrigin = null;
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, ConfigValue> e : written(userPaths)) {
      String key = e.getKey();
      String given = PROPERTIES.contains(key) ? System.getProperty(key) : null;
      if (given != null && SWITCHES.containsKey(key) && !given.equalsIgnoreCase("true") && !given.equalsIgnoreCase("false")) {
        // Checked with the rest, before any model loads, whichever path would have read it; as written
        // (Boolean.getBoolean reads " true" as false).
        problems.add("-D" + key + "=" + io.tandem.protocol.text.Clipped.of(given) + " is neither true nor false ("
            + SWITCHES.get(key) + ")");
        if (firstOrigin == null) {
          firstOrigin = e.getValue().origin().description();
          firstKey = key;
        }
        lastOrigin = e.getValue().origin().description();
        continue;
      }
      if (given != null || knownOrInside(key, knownPaths)) continue;
      String problem;
      if (PROPERTIES.contains(key)) {
        // Read with System.getProperty only: from a config file it would be taken and never read.
        problem = "'" + key + "' is a JVM system property, not a setting: give it as -D" + key + "=... (in"
            + " TANDEM_JAVA_OPTS), not in a config file";
      } else {
        String parent = key.substring(0, key.lastIndexOf('.'));
        while (!parent.equals(section) && !knownPaths.containsKey(parent)) parent = parent.substring(0, parent.lastIndexOf('.'));
        // A property misspelt (tandem.onedn) is nearer itself than anything the sections hold.
        String meant = KeySuggestions.nearest(key, PROPERTIES.stream().filter(p -> p.startsWith(section + ".")).toList());
        if (meant == null) meant = meant(key, section, knownPaths);
        if (meant == null) meant = KeySuggestions.nearest(key, leaves);
        problem = KeySuggestions.unknownKey(key, meant, children(parent, knownPaths));
      }
      String origin = e.getValue().origin().description();
      if (firstOrigin == null) {
        firstOrigin = origin;
        firstKey = key;
      } else if (!origin.equals(lastOrigin)) {
        problem = origin + ": " + problem;
      }
      lastOrigin = origin;
      problems.add(problem);
    }
    if (!problems.isEmpty()) throw new InvalidConfigException(firstOrigin, firstKey, String.join("; ", problems));
  }

  /**
   * The key {@code key} was most likely meant to be, one name at a time from {@code section} down:
   * a name no known section holds is taken for the nearest name beside it, so that {@code
   * tandem.http.api-keyz.0.key} reads as {@code tandem.http.api-keys.0.key} (its misspelt name is
   * one letter from {@code api-keys}; the whole key is nearer {@code tandem.http.api-keys-file}) and
   * {@code tandem.larg.thread} as {@code tandem.large.threads}. What follows a setting (a list's
   * elements) is kept as written. Null when some name is near none beside it.
   */
  private static String meant(String key, String section, Map<String, ConfigValue> known) {
    String at = section;
    String[] names = key.substring(section.length() + 1).split("\\.");
    for (int i = 0; i < names.length; i++) {
      String name = known.containsKey(at + "." + names[i]) ? names[i]
          : KeySuggestions.nearest(names[i], children(at, known).stream().map(KnownKeys::nameOf).toList());
      if (name == null) return null;
      at = at + "." + name;
      if (!(known.get(at) instanceof ConfigObject))
        return at + String.join("", java.util.Arrays.stream(names, i + 1, names.length).map(n -> "." + n).toList());
    }
    return at;
  }

  /** The known paths one level under {@code parent}. */
  private static List<String> children(String parent, Map<String, ConfigValue> known) {
    List<String> out = new ArrayList<>();
    for (String k : known.keySet()) {
      if (k.startsWith(parent + ".") && k.indexOf('.', parent.length() + 1) < 0) out.add(k);
    }
    return out;
  }

  /** The last name of {@code path}: {@code port} of {@code tandem.http.port}. */
  private static String nameOf(String path) {
    return path.substring(path.lastIndexOf('.') + 1);
  }

  /** Whether {@code key} is a known setting or lies inside one (a list's element, a free-form section's key). */
  private static boolean knownOrInside(String key, Map<String, ConfigValue> known) {
    for (String k = key; k.contains("."); k = k.substring(0, k.lastIndexOf('.'))) {
      ConfigValue v = known.get(k);
      if (v != null) return k.equals(key) || !(v instanceof ConfigObject);
    }
    return false;
  }

  /**
   * The paths under {@code path}: every setting (lists and nulls included, as leaves) and, when
   * {@code sections}, every section as well (free-form sections only as leaves).
   */
  private static void paths(String path, ConfigObject o, Map<String, ConfigValue> out, boolean sections) {
    for (Map.Entry<String, ConfigValue> e : o.entrySet()) {
      String p = path + "." + e.getKey();
      if (e.getValue() instanceof ConfigObject child && !FREE_FORM.contains(p)) {
        if (sections) out.put(p, child);
        paths(p, child, out, sections);
      } else {
        out.put(p, e.getValue());
      }
    }
  }
}
