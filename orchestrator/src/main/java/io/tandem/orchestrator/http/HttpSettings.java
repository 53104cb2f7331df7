package io.tandem.orchestrator.http;

import com.typesafe.config.Config;
import io.tandem.orchestrator.session.Mode;
import io.tandem.orchestrator.session.SessionSettings;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.ConfigSection;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.text.Seconds;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The HTTP server's settings, from {@code tandem.http} (see the orchestrator's reference.conf).
 * {@code requestTimeout} and {@code idleTimeout} ({@link ConfigSection#INFINITE} for {@code
 * infinite}: none) are akka-http's server timeouts; {@code keepAliveTimeout} is how long a
 * connection with no request in flight stays open ({@link OpenConnections}); {@code
 * sessionDeadline} is the longest a session may wait on its own deadlines (a worker to be listed
 * plus one step), which both must exceed so that a session always ends with its own answer.
 * {@code cors} says which web pages of other origins may call the server ({@link Cors}).
 * {@code degradeWithoutLarge} is {@code tandem.session.on-large-loss = degrade}: the server then
 * serves speculative requests without a large worker, which readiness counts. {@code demoPair}
 * says whether the models are the demo pair, which the playground's examples and hints are for.
 */
public record HttpSettings(
    String host,
    int port,
    List<String> modelNames,
    List<TenantSpec> tenants,
    long maxBodyBytes,
    int maxInFlight,
    int defaultMaxTokens,
    int maxMaxTokens,
    int retryAfterSeconds,
    Duration shutdownDeadline,
    Duration shutdownGrace,
    Duration askTimeout,
    Duration countTimeout,
    Duration workerFiguresMaxAge,
    Duration workerFiguresTimeout,
    Duration bodyReadTimeout,
    Duration keepAliveTimeout,
    Duration requestTimeout,
    Duration idleTimeout,
    Duration sessionDeadline,
    ReasoningSplitter.Mode reasoningParser,
    SpeculativeConfig speculative,
    Mode defaultMode,
    SamplingParams defaultSampling,
    Cors cors,
    boolean degradeWithoutLarge,
    DemoPair demoPair) {

  /**
   * The {@code max_tokens} of a chat request that gives none, before the context caps it: {@code
   * default-max-tokens}, or where that is 0 (the default) {@code max-max-tokens}, so that the
   * generation runs to what fits in the context, as vLLM's default does (the context minus the
   * prompt; a reasoning model's answer is not cut at some fixed length).
   */
  public int chatDefaultMaxTokens() {
    return defaultMaxTokens == 0 ? maxMaxTokens : defaultMaxTokens;
  }

  /**
   * @throws IllegalArgumentException naming the {@code tandem.http} key of a value out of its range:
   *     a port outside 0-65535, a body limit outside 1 byte to 2 GiB - 1 (akka-http holds a request
   *     body in one ByteString), a negative max-in-flight, a max_tokens default or cap below 1 or
   *     the default above the cap, a server timeout that is not positive, or a request or idle
   *     timeout not above {@code sessionDeadline}
   */
  public HttpSettings {
    if (modelNames.isEmpty()) throw new IllegalArgumentException("tandem.http.served-model-names is empty");
    ConfigSection.within("tandem.http.port", port, 0, 65535, "0 picks a free one");
    ConfigSection.within("tandem.http.max-body-size", maxBodyBytes, 1, Integer.MAX_VALUE, "bytes; a body is held in memory whole");
    ConfigSection.within("tandem.http.max-in-flight", maxInFlight, 0, Integer.MAX_VALUE, "0: no limit");
    ConfigSection.within("tandem.http.max-max-tokens", maxMaxTokens, 1, Integer.MAX_VALUE, "");
    ConfigSection.within("tandem.http.default-max-tokens", defaultMaxTokens, 0, maxMaxTokens,
        "0: what fits in the context, as vLLM's default; at most tandem.http.max-max-tokens");
    ConfigSection.positive("tandem.http.ask-timeout", askTimeout);
    ConfigSection.positive("tandem.http.count-timeout", countTimeout);
    ConfigSection.positive("tandem.http.worker-figures-timeout", workerFiguresTimeout);
    ConfigSection.positive("tandem.http.body-read-timeout", bodyReadTimeout);
    ConfigSection.positiveOrInfinite("tandem.http.keep-alive-timeout", keepAliveTimeout);
    if (shutdownDeadline.isNegative() || shutdownGrace.isNegative())
      throw new IllegalArgumentException("tandem.http.shutdown-deadline and tandem.http.shutdown-grace must not be negative, got "
          + ConfigSection.written(shutdownDeadline) + " and " + ConfigSection.written(shutdownGrace));
    modelNames = List.copyOf(modelNames);
    tenants = List.copyOf(tenants);
    aboveSessionDeadline("request-timeout", requestTimeout, sessionDeadline);
    aboveSessionDeadline("idle-timeout", idleTimeout, sessionDeadline);
  }

  /**
   * {@code tandem.http.retry-after} in the whole seconds of HTTP's {@code Retry-After} (RFC 9110
   * section 10.2.3: delay-seconds), a fraction rounded up: 500ms is 1, never 0, which would send no
   * header at all; 0s sends none.
   *
   * @throws io.tandem.protocol.config.InvalidConfigException for a negative duration, naming the key
   */
  static int retryAfterSeconds(Duration d) {
    ConfigSection.notNegative("tandem.http.retry-after", d, "no Retry-After header");
    long millis = d.compareTo(Duration.ofSeconds(Integer.MAX_VALUE)) >= 0 ? Integer.MAX_VALUE * 1000L : d.toMillis();
    return (int) ((millis + 999) / 1000);
  }

  private static void aboveSessionDeadline(String key, Duration timeout, Duration sessionDeadline) {
    if (timeout.compareTo(sessionDeadline) <= 0)
      throw new IllegalArgumentException(serverTimeoutMistake(key, Seconds.of(timeout) + " s", sessionDeadline));
  }

  /**
   * {@code request-timeout} or {@code idle-timeout} of the section: {@link ConfigSection#INFINITE}
   * for {@code infinite}, else a duration with its unit.
   *
   * @throws IllegalArgumentException {@link #serverTimeoutMistake} for a value that is neither, or a
   *     duration beyond {@link ConfigSection#LONGEST_DELAY}
   */
  private static Duration serverTimeout(Config c, String key, Duration sessionDeadline) {
    try {
      return ConfigSection.durationOrInfinite(c, key);
    } catch (io.tandem.protocol.config.InvalidConfigException e) {
      // A number without its unit is said so (tester59c: "got 400" beside "more than 310 s" read as a contradiction).
      if (e.getMessage() != null && e.getMessage().contains("with its unit") && positive(c.getValue(key))) throw e;
      throw new IllegalArgumentException(serverTimeoutMistake(key, given(c.getValue(key)), sessionDeadline), e);
    } catch (IllegalArgumentException | com.typesafe.config.ConfigException.BadValue e) {
      throw new IllegalArgumentException(serverTimeoutMistake(key, given(c.getValue(key)), sessionDeadline), e);
    }
  }

  /** Whether {@code v} is a number above 0, written as a number or as a string (a -D option's). */
  private static boolean positive(com.typesafe.config.ConfigValue v) {
    try {
      return Double.parseDouble(v.unwrapped().toString().strip()) > 0;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /**
   * {@code host} without the brackets a URL writes an IPv6 address in ({@code [::1]}, as the listening line writes it),
   * which akka-http refused only once the models had loaded (tester59f).
   */
  static String unbracketed(String host) {
    String h = host.strip();
    return h.length() > 2 && h.startsWith("[") && h.endsWith("]") && h.indexOf(':') > 0 ? h.substring(1, h.length() - 1) : host;
  }

  /** {@code v} as a message quotes it: a duration as it was written ({@code 300d}), anything else as {@link ConfigSection#shown} does. */
  private static String given(com.typesafe.config.ConfigValue v) {
    try {
      com.typesafe.config.ConfigFactory.empty().withValue("v", v).getDuration("v");
      return v.unwrapped().toString().strip();
    } catch (com.typesafe.config.ConfigException e) {
      return ConfigSection.shown(v);
    }
  }

  /**
   * What {@code request-timeout} and {@code idle-timeout} take, in one message: both must exceed
   * what a session may wait on its own deadlines, so that every deadline ends as the session's
   * OpenAI error object, and be within what Akka's scheduler takes ({@link
   * ConfigSection#LONGEST_DELAY}), or be {@code infinite} (akka-http's word for none), the only
   * choice left when a session may wait longer than that.
   */
  private static String serverTimeoutMistake(String key, String given, Duration sessionDeadline) {
    String why = "; a session may wait " + Seconds.of(sessionDeadline) + " s on its own deadlines (tandem.session.worker-wait +"
        + " tandem.session.step-timeout, and the paper's time_out)";
    String answer = ", and a slow request must end with the session's answer, not a bare timeout";
    if (sessionDeadline.compareTo(ConfigSection.LONGEST_DELAY) >= 0)
      return "tandem.http." + key + " must be infinite (none), got " + given + why + ", more than " + ConfigSection.LONGEST_DELAY_SAID
          + answer;
    Duration like = Duration.ofHours(sessionDeadline.toHours() + 1);
    String likeSaid = like.compareTo(ConfigSection.LONGEST_DELAY) <= 0 ? like.toHours() + "h"
        : ConfigSection.LONGEST_DELAY.toSeconds() + "s";
    return "tandem.http." + key + " must be a duration of more than " + Seconds.of(sessionDeadline) + " s and at most "
        + ConfigSection.LONGEST_DELAY_SAID + ", like " + likeSaid + ", or infinite (none), got " + given + why + answer;
  }

  /**
   * {@code tandem.http} of {@code config}, with {@code tandem.speculative} as every request's base config.
   *
   * @throws IllegalArgumentException naming the full key of a value that is missing, not of its
   *     type or out of its range
   */
  public static HttpSettings fromConfig(Config config) {
    SpeculativeConfig speculative = SpeculativeConfig.fromHocon(config);
    SessionSettings session = SessionSettings.fromConfig(config);
    return ConfigSection.read(config, "tandem.http", c -> fromSection(c, speculative, session));
  }

  private static HttpSettings fromSection(Config c, SpeculativeConfig speculative, SessionSettings session) {
    Duration sessionDeadline = sessionDeadline(session, speculative);
    List<TenantSpec> tenants = TenantSpec.fromList(c.getValue("api-keys"), "tandem.http.api-keys");
    String file = c.getString("api-keys-file");
    if (!file.isBlank())
      tenants = TenantSpec.joined(tenants, "tandem.http.api-keys", TenantSpec.fromFile(Path.of(file)),
          "tandem.http.api-keys-file " + file);
    return new HttpSettings(
        unbracketed(c.getString("host")),
        c.getInt("port"),
        c.getStringList("served-model-names"),
        tenants,
        c.getBytes("max-body-size"),
        c.getInt("max-in-flight"),
        c.getInt("default-max-tokens"),
        c.getInt("max-max-tokens"),
        retryAfterSeconds(c.getDuration("retry-after")),
        c.getDuration("shutdown-deadline"),
        c.getDuration("shutdown-grace"),
        c.getDuration("ask-timeout"),
        c.getDuration("count-timeout"),
        c.getDuration("worker-figures-max-age"),
        c.getDuration("worker-figures-timeout"),
        c.getDuration("body-read-timeout"),
        ConfigSection.durationOrInfinite(c, "keep-alive-timeout"),
        serverTimeout(c, "request-timeout", sessionDeadline),
        serverTimeout(c, "idle-timeout", sessionDeadline),
        sessionDeadline,
        ReasoningSplitter.Mode.parse(c.getString("reasoning-parser")),
        speculative,
        defaultMode(c.getString("default-mode")),
        SamplingParams.PAPER,
        Cors.fromSection(c),
        session.degradeWithoutLarge(),
        DemoPair.UNKNOWN);
  }

  private static Mode defaultMode(String s) {
    try {
      return Mode.valueOf(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("tandem.http.default-mode is '" + s + "'; it must be speculative, small or large");
    }
  }

  private static Duration sessionDeadline(SessionSettings session, SpeculativeConfig speculative) {
    Duration steps = session.workerWait().plus(session.stepTimeout());
    Duration whole = Duration.ofNanos((long) (Math.max(0, speculative.timeOut()) * 1e9));
    return steps.compareTo(whole) >= 0 ? steps : whole;
  }

  /** These settings listening on {@code newPort} (0: any free port). */
  public HttpSettings withPort(int newPort) {
    return new HttpSettings(host, newPort, modelNames, tenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, retryAfterSeconds, shutdownDeadline, shutdownGrace, askTimeout, countTimeout, workerFiguresMaxAge, workerFiguresTimeout, bodyReadTimeout, keepAliveTimeout, requestTimeout, idleTimeout,
        sessionDeadline, reasoningParser, speculative, defaultMode, defaultSampling, cors, degradeWithoutLarge, demoPair);
  }

  /** These settings with {@code newTenants}' API keys in place of the configured ones. */
  public HttpSettings withTenants(List<TenantSpec> newTenants) {
    return new HttpSettings(host, port, modelNames, newTenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, retryAfterSeconds, shutdownDeadline, shutdownGrace, askTimeout, countTimeout, workerFiguresMaxAge, workerFiguresTimeout, bodyReadTimeout, keepAliveTimeout, requestTimeout, idleTimeout,
        sessionDeadline, reasoningParser, speculative, defaultMode, defaultSampling, cors, degradeWithoutLarge, demoPair);
  }

  /** These settings with {@code newSpeculative} as every request's base configuration. */
  public HttpSettings withSpeculative(SpeculativeConfig newSpeculative) {
    return new HttpSettings(host, port, modelNames, tenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, retryAfterSeconds, shutdownDeadline, shutdownGrace, askTimeout, countTimeout, workerFiguresMaxAge, workerFiguresTimeout, bodyReadTimeout, keepAliveTimeout, requestTimeout, idleTimeout,
        sessionDeadline, reasoningParser, newSpeculative, defaultMode, defaultSampling, cors, degradeWithoutLarge, demoPair);
  }

  /**
   * These settings with {@code sampling} for every request that leaves out {@code temperature},
   * {@code top_k}, {@code top_p} or {@code seed} (the paper's sampling, unseeded, unless {@code
   * serve}'s flags say otherwise).
   */
  public HttpSettings withDefaultSampling(SamplingParams sampling) {
    return new HttpSettings(host, port, modelNames, tenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, retryAfterSeconds, shutdownDeadline, shutdownGrace, askTimeout, countTimeout, workerFiguresMaxAge, workerFiguresTimeout, bodyReadTimeout, keepAliveTimeout, requestTimeout, idleTimeout,
        sessionDeadline, reasoningParser, speculative, defaultMode, sampling, cors, degradeWithoutLarge, demoPair);
  }

  /**
   * Whether the models behind this server are the demo pair ({@code ops/demo}), for the playground:
   * its examples and its hint for a question outside the demo task are for the demo pair alone, as
   * {@code generate}'s warning is (tester54a: the hint told someone serving their own models to
   * serve real models).
   */
  public enum DemoPair {
    /** Every model role here, both of them, is the demo pair's model. */
    SERVED,
    /** A model here is not the demo pair's. */
    NOT_SERVED,
    /** This node runs no model, or one role alone, so the models are elsewhere: the page shows what it shows the demo pair. */
    UNKNOWN
  }

  /** These settings with {@code pair} saying whether the models are the demo pair. */
  public HttpSettings withDemoPair(DemoPair pair) {
    return new HttpSettings(host, port, modelNames, tenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, retryAfterSeconds, shutdownDeadline, shutdownGrace, askTimeout, countTimeout, workerFiguresMaxAge, workerFiguresTimeout, bodyReadTimeout, keepAliveTimeout, requestTimeout, idleTimeout,
        sessionDeadline, reasoningParser, speculative, defaultMode, defaultSampling, cors, degradeWithoutLarge, pair);
  }

  /** True when no API key is configured: the server is open to anyone who can reach it. */
  public boolean open() {
    return tenants.isEmpty();
  }
}
