package io.tandem.ops;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.net.MalformedURLException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The configuration file a user gives in place of Tandem's application.conf, with one of the JVM
 * options Typesafe Config reads for it ({@code -Dconfig.file=PATH}, {@code -Dconfig.resource=NAME},
 * {@code -Dconfig.url=URL}), and what can be wrong with it, each in one line naming the option as
 * given and what to do: Typesafe Config says only {@code java.io.IOException: resource not found on
 * classpath: nope.conf} or {@code Cannot load config from URL: ...}, reads a folder as an empty file,
 * and takes a file that leaves out Tandem's application.conf (then every setting it holds is missing).
 *
 * @param property the system property that names it: {@code config.file}, {@code config.resource} or
 *     {@code config.url}
 * @param value what the property says
 */
record OwnConfigFile(String property, String value) {

  /** The system properties Typesafe Config reads a replacement of application.conf from, in its order. */
  private static final List<String> PROPERTIES = List.of("config.resource", "config.file", "config.url");

  private static final String BEGIN = "begins with include classpath(\"application.conf\")";


  /**
   * The file the JVM options give, or null when they give none.
   *
   * @throws UsageError when more than one of them is set (Typesafe Config reads one only)
   */
  static OwnConfigFile given() {
    List<OwnConfigFile> given = new ArrayList<>();
    for (String p : PROPERTIES) if (System.getProperty(p) != null) given.add(new OwnConfigFile(p, System.getProperty(p)));
    if (given.size() > 1)
      // Options that contradict each other are a usage error (exit status 2), as contradicting flags are.
      throw new UsageError(String.join(" and ", given.stream().map(OwnConfigFile::option).toList())
          + ": Typesafe Config reads one file in place of Tandem's application.conf, not " + given.size() + "; keep one of them");
    return given.isEmpty() ? null : given.get(0);
  }

  /** The option as given: {@code -Dconfig.file=/etc/tandem/node.conf}. */
  String option() {
    return "-D" + property + "=" + value;
  }

  /** What to give instead, as a message about this option ends. */
  String expected() {
    String leave = ", or leave -D" + property + " out for Tandem's own application.conf";
    return switch (property) {
      case "config.resource" -> "give -Dconfig.file=PATH for a file of your own (one that " + BEGIN + "), or the name of a"
          + " resource on Tandem's classpath" + leave;
      case "config.url" -> "give the URL of a HOCON file that " + BEGIN + ", like file:///etc/tandem/node.conf" + leave;
      default -> "give the path of a HOCON file that " + BEGIN + leave;
    };
  }

  /**
   * Refuses, before Typesafe Config reads it, a file that is not there or cannot be read, a resource
   * that is not on the classpath, a URL that is none or names such a file.
   *
   * @throws IllegalArgumentException {@code -Dconfig.file=FILE: does not exist; give ...}
   */
  void requireReadable() {
    switch (property) {
      case "config.resource" -> {
        // Typesafe Config drops a leading slash, as a class loader's resource names have none.
        String name = value.startsWith("/") ? value.substring(1) : value;
        if (OwnConfigFile.class.getClassLoader().getResource(name) == null)
          throw new IllegalArgumentException(option() + ": no such resource on Tandem's classpath; " + expected());
      }
      case "config.url" -> {
        URL url;
        try {
          url = new URL(value);
        } catch (MalformedURLException e) {
          throw new IllegalArgumentException(option() + ": not a URL (" + e.getMessage() + "); " + expected(), e);
        }
        if (url.getProtocol().equals("file")) requireFile(fileOf(url));
      }
      default -> requireFile(Path.of(value));
    }
  }

  private URL toUrl() {
    try {
      return new URL(value);
    } catch (MalformedURLException e) {
      throw new IllegalArgumentException(option() + ": not a URL (" + e.getMessage() + "); " + expected(), e);
    }
  }

  /** The file a {@code file:} URL names. */
  private Path fileOf(URL url) {
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException | IllegalArgumentException e) {
      // file://host/x (a host) and file:x (no path from the root) name no file here.
      throw new IllegalArgumentException(option() + ": not a file URL (" + e.getMessage() + "); " + expected(), e);
    }
  }

  /** Refuses a file that is not there, is a folder, or cannot be read, naming it as it resolves. */
  private void requireFile(Path path) {
    String why = !Files.exists(path) ? "does not exist" : Files.isDirectory(path) ? "is a folder, not a file"
        : !Files.isReadable(path) ? "cannot be read (no permission)" : null;
    if (why == null) return;
    // A relative path is taken from the folder the command runs in, which may not be the one the user thinks of.
    // Said as that folder, not as the path resolved: a key given here by mistake would be repeated in it (tester52b).
    String where = path.isAbsolute() ? "" : " (relative to " + Path.of("").toAbsolutePath() + ")";
    // A shell expands ~ only at the start of a word: inside TANDEM_JAVA_OPTS it stays a folder named ~ (tester46b).
    String tilde = value.startsWith("~") ? " (~ is not expanded inside TANDEM_JAVA_OPTS: write the full path, "
        + System.getProperty("user.home") + value.substring(1) + ")" : "";
    throw new IllegalArgumentException(option() + where + ": " + why + tilde + "; " + expected());
  }

  /**
   * What Typesafe Config's failure to read this file ({@code e}, not a parse error) says, in one line:
   * an address that does not answer, a file gone since {@link #requireReadable}.
   */
  IllegalArgumentException unreadable(ConfigException e) {
    Throwable cause = e.getCause() == null ? e : e.getCause();
    String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    return new IllegalArgumentException(option() + ": cannot be read (" + Tandem.oneLine(why) + "); " + expected(), e);
  }

  /**
   * Refuses a file that does not include Tandem's application.conf: the settings it holds ({@code
   * tandem.roles}, {@code tandem.cluster}, ...) would be missing, and the first command to read one
   * would fail naming only that key.
   *
   * @throws IllegalArgumentException naming the option, a missing setting, and the include to add
   */
  /**
   * Refuses a setting of the file (or of a file it includes) that Tandem's application.conf, included
   * after it, overrides with another value (tester46b: max-batch 8 above the include ran at 64),
   * wherever it is: above the include, in an included file above its include, or on the include's
   * own line before it (tester46f). Read from the values, not lines, so that a setting application.conf
   * does not set, or sets to the same value, is no mistake (tester47f): the file is parsed again without application.conf, and each
   * of its settings whose value in {@code loaded} differs was overridden, unless a system property
   * ({@code -D}) gave it or the file appended to a list there ({@code +=}).
   *
   * @throws IllegalArgumentException naming the option, the setting's file and line, both values
   */
  void requireOwnSettingsKept(Config loaded) {
    Path path;
    if (property.equals("config.file")) path = Path.of(value);
    else if (property.equals("config.url") && value.startsWith("file:")) path = fileOf(toUrl());
    else return;
    Config written;
    List<Map.Entry<String, com.typesafe.config.ConfigValue>> settings;
    try {
      written = ConfigFactory.parseFile(path.toFile(), com.typesafe.config.ConfigParseOptions.defaults()
          .setIncluder(new WithoutApplicationConf(null, path)));
      // Substitutions resolved as loading resolves them, over the -D options (and CONFIG_FORCE_ variables) that load lays
      // over the file (tester47e: ${tandem.small.max-batch} beside -Dtandem.small.max-batch=16 was read as 8), and the
      // environment (${?VAR}); those of application.conf's settings stay as they are, and are skipped.
      settings = new ArrayList<>(written.resolveWith(ConfigFactory.defaultOverrides().withFallback(written),
          com.typesafe.config.ConfigResolveOptions.defaults().setAllowUnresolved(true)).entrySet());
    } catch (ConfigException e) {
      return; // what Typesafe Config says of the file when it loads it is the message
    }
    settings.sort(java.util.Comparator.comparingInt(e -> e.getValue().origin().lineNumber()));
    Config options = ConfigFactory.defaultOverrides();
    for (Map.Entry<String, com.typesafe.config.ConfigValue> e : settings) {
      String key = e.getKey();
      // What the files set is in `own` as the later setting left it: a value other than that in `loaded`, unless a -D
      // option gave it, came from the include of application.conf after it, directly or through a substitution there
      // (tester47d: per-tenant-queue-limit = 5 above it became ${tandem.large.queue-limit}).
      if (!loaded.hasPath(key) || options.hasPath(key)) continue;
      com.typesafe.config.ConfigValue there = loaded.getValue(key);
      Object mine;
      try {
        mine = e.getValue().unwrapped();
      } catch (ConfigException.NotResolved substitution) {
        continue; // ${...} of a setting: its value is known only once resolved
      }
      // An environment variable's value is a string: 8 and "8" are one value (tester47d: ${?MB} was skipped).
      if (java.util.Objects.equals(mine, there.unwrapped()) || !(mine instanceof List<?>) && !(mine instanceof Map<?, ?>)
          && String.valueOf(mine).equals(String.valueOf(there.unwrapped()))) continue;
      // One value spelled two ways: 2048MiB and 2GiB, true and on, 1000ms and 1s (tester47g: refused though equal).
      if (sameValue(e.getValue(), there)) continue;
      // A list appended to (+=) is application.conf's with the file's after it: no override.
      if (mine instanceof List<?> tail && there.unwrapped() instanceof List<?> all && all.size() >= tail.size()
          && all.subList(all.size() - tail.size(), all.size()).equals(tail)) continue;
      com.typesafe.config.ConfigOrigin at = writtenAt(written, key, e.getValue().origin());
      String where = (at.filename() == null || Path.of(at.filename()).equals(path.toAbsolutePath()) || at.filename().equals(value)
          ? "line " : at.filename() + ": line ") + at.lineNumber();
      throw new IllegalArgumentException(option() + ": " + where + " sets " + key + " = " + io.tandem.protocol.text.Clipped.of(
          e.getValue().render(com.typesafe.config.ConfigRenderOptions.concise())) + ", and Tandem's application.conf, included"
          + " after it, sets it back to " + io.tandem.protocol.text.Clipped.of(setBackTo(key, there)) + " (in HOCON the later wins);"
          + " include classpath(\"application.conf\") once, before every setting of"
          + " the file and of the files it includes, on a line of its own");
    }
  }

  /**
   * Whether {@code a} and {@code b} read as one value by a getter that takes both: a boolean ({@code
   * true}, {@code on}, {@code yes}), a memory size ({@code 2048MiB}, {@code 2GiB}), a duration
   * ({@code 1000ms}, {@code 1s}) or a number ({@code 8}, {@code 8.0}), as Typesafe Config reads
   * them for a setting.
   */
  static boolean sameValue(com.typesafe.config.ConfigValue a, com.typesafe.config.ConfigValue b) {
    Config x = ConfigFactory.empty().withValue("v", a);
    Config y = ConfigFactory.empty().withValue("v", b);
    List<java.util.function.Function<Config, Object>> readings = List.of(c -> c.getBoolean("v"),
        c -> c.getMemorySize("v").toBytes(), c -> c.getDuration("v"), c -> c.getDouble("v"));
    for (java.util.function.Function<Config, Object> read : readings) {
      try {
        if (read.apply(x).equals(read.apply(y))) return true;
      } catch (ConfigException notThisType) {
        // read as another type
      }
    }
    return false;
  }

  /**
   * What application.conf sets {@code key} to, as it writes it: a substitution with the value it
   * resolves to ({@code ${tandem.large.queue-limit} (64)}), else the value ({@code resolved}).
   */
  private static String setBackTo(String key, com.typesafe.config.ConfigValue resolved) {
    String value = resolved.render(com.typesafe.config.ConfigRenderOptions.concise());
    com.typesafe.config.ConfigValue v = ConfigFactory.parseResources(OwnConfigFile.class.getClassLoader(), "application.conf").root();
    for (String part : com.typesafe.config.ConfigUtil.splitPath(key)) {
      if (!(v instanceof com.typesafe.config.ConfigObject o) || o.get(part) == null) return value;
      v = o.get(part);
    }
    String written = v.render(com.typesafe.config.ConfigRenderOptions.concise());
    return written.startsWith("${") ? written + " (" + value + ")" : value;
  }

  /**
   * Where {@code key} is written in {@code written} (unresolved): a value taken from the environment
   * has the environment as its origin once resolved, not the line that asked for it.
   */
  private static com.typesafe.config.ConfigOrigin writtenAt(Config written, String key, com.typesafe.config.ConfigOrigin resolved) {
    com.typesafe.config.ConfigValue v = written.root();
    for (String part : com.typesafe.config.ConfigUtil.splitPath(key)) {
      if (!(v instanceof com.typesafe.config.ConfigObject o) || o.get(part) == null) return resolved;
      v = o.get(part);
    }
    return v.origin().lineNumber() > 0 ? v.origin() : resolved;
  }

  /** Includes as Typesafe Config does, but Tandem's application.conf as nothing: what a file sets of its own. */
  private static final class WithoutApplicationConf implements com.typesafe.config.ConfigIncluder,
      com.typesafe.config.ConfigIncluderClasspath, com.typesafe.config.ConfigIncluderFile, com.typesafe.config.ConfigIncluderURL {
    private final com.typesafe.config.ConfigIncluder fallback;
    private final Path file;

    WithoutApplicationConf(com.typesafe.config.ConfigIncluder fallback, Path file) {
      this.fallback = fallback;
      this.file = file;
    }

    @Override
    public com.typesafe.config.ConfigIncluder withFallback(com.typesafe.config.ConfigIncluder next) {
      return new WithoutApplicationConf(next, file);
    }

    @Override
    public com.typesafe.config.ConfigObject include(com.typesafe.config.ConfigIncludeContext context, String what) {
      // Unqualified, "application" falls back to the classpath's where the file's folder has none (tester47d).
      boolean tandems = (what.equals("application") || what.equals("application.conf"))
          && !Files.exists(file.toAbsolutePath().resolveSibling("application.conf"));
      return tandems ? ConfigFactory.empty().root() : fallback.include(context, what);
    }

    @Override
    public com.typesafe.config.ConfigObject includeResources(com.typesafe.config.ConfigIncludeContext context, String what) {
      if (what.equals("application.conf") || what.equals("application")) return ConfigFactory.empty().root();
      return ((com.typesafe.config.ConfigIncluderClasspath) fallback).includeResources(context, what);
    }

    @Override
    public com.typesafe.config.ConfigObject includeFile(com.typesafe.config.ConfigIncludeContext context, java.io.File what) {
      return ((com.typesafe.config.ConfigIncluderFile) fallback).includeFile(context, what);
    }

    @Override
    public com.typesafe.config.ConfigObject includeURL(com.typesafe.config.ConfigIncludeContext context, URL what) {
      return ((com.typesafe.config.ConfigIncluderURL) fallback).includeURL(context, what);
    }
  }

  void requireApplicationConf(Config loaded) {
    Config application = ConfigFactory.parseResourcesAnySyntax(OwnConfigFile.class.getClassLoader(), "application");
    List<String> missing = application.entrySet().stream().map(Map.Entry::getKey).filter(k -> !loaded.hasPathOrNull(k))
        .sorted().toList();
    if (missing.isEmpty()) return;
    throw new IllegalArgumentException(option() + ": leaves out Tandem's application.conf (" + missing.get(0)
        + (missing.size() == 1 ? " is" : " and " + (missing.size() - 1) + " other settings are") + " missing): a config"
        + " file of one's own replaces Tandem's application.conf (Typesafe Config's rule), so begin it with"
        + " include classpath(\"application.conf\") and put your settings after that line");
  }
}
