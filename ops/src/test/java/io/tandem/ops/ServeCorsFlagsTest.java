package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.tandem.ops.CommandLineMistakesTest.Result;
import io.tandem.orchestrator.http.Cors;
import io.tandem.orchestrator.http.HttpSettings;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code serve}'s CORS flags, vLLM's {@code --allowed-origins}, {@code --allowed-methods},
 * {@code --allowed-headers} (JSON lists) and {@code --allow-credentials}: each sets its {@code
 * tandem.http} setting, and a value that cannot be used is one line and exit status 2 before anything
 * loads. A refusal that does not come would start a server that runs until stopped: the timeout fails it.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ServeCorsFlagsTest {

  @Test
  void theFlagsSetTheCorsSettingsAsVllmsDo() {
    ServeCommand serve = new ServeCommand();
    new CommandLine(serve).parseArgs("--allowed-origins", "[\"http://localhost:3000\", \"https://app.example:8443\"]",
        "--allowed-methods", "[\"get\", \"POST\"]", "--allowed-headers", "[\"Authorization\"]", "--allow-credentials");
    Cors cors = HttpSettings.fromConfig(serve.cors.apply(ConfigFactory.load())).cors();
    assertEquals(new Cors(List.of("http://localhost:3000", "https://app.example:8443"), List.of("GET", "POST"),
        List.of("authorization"), true), cors);
  }

  /** What a browser sends: "null" from a file: page or a sandboxed iframe, scheme and host in lower case, no default port. */
  @Test
  void theNullOriginIsTakenAndOriginsAreKeptAsBrowsersSendThem() {
    ServeCommand serve = new ServeCommand();
    new CommandLine(serve).parseArgs("--allowed-origins", "[\"null\", \"HTTP://UPPER.EXAMPLE\", \"https://App.Example:443\"]");
    assertEquals(List.of("null", "http://upper.example", "https://app.example"),
        HttpSettings.fromConfig(serve.cors.apply(ConfigFactory.load())).cors().allowedOrigins());
  }

  @Test
  void withoutTheFlagsTheSettingsStandAtVllmsDefaults() {
    ServeCommand serve = new ServeCommand();
    new CommandLine(serve).parseArgs();
    assertEquals(new Cors(List.of("*"), List.of("*"), List.of("*"), false),
        HttpSettings.fromConfig(serve.cors.apply(ConfigFactory.load())).cors());
  }

  @Test
  void aValueThatIsNotAJsonListOfStringsOrNotAnOriginOrMethodIsOneLineNamingTheFlag() {
    String list = "': give a JSON list of strings, e.g. --allowed-origins '[\"*\"]' (in single quotes, so that the shell"
        + " keeps the double ones)";
    Map<List<String>, String> refusals = new LinkedHashMap<>();
    // What a shell leaves of '["http://localhost:3000"]' written without the single quotes.
    refusals.put(List.of("--allowed-origins", "[http://localhost:3000]"), "--allowed-origins '[http://localhost:3000]" + list);
    refusals.put(List.of("--allowed-origins", "http://localhost:3000"), "--allowed-origins 'http://localhost:3000" + list);
    refusals.put(List.of("--allowed-origins", "\"*\""), "--allowed-origins '\"*\"" + list);
    refusals.put(List.of("--allowed-origins", "[\"*\"] [\"*\"]"), "--allowed-origins '[\"*\"] [\"*\"]" + list);
    refusals.put(List.of("--allowed-headers", "[1]"), "--allowed-headers '[1]" + list.replace("--allowed-origins", "--allowed-headers"));
    refusals.put(List.of("--allowed-origins", "[\"http://localhost:3000/\"]"), "--allowed-origins has 'http://localhost:3000/';"
        + " an origin is \"*\", \"null\" or scheme://host[:port] as a browser sends it, e.g. \"http://localhost:3000\" (no path, no"
        + " trailing slash)");
    refusals.put(List.of("--allowed-methods", "[\"FETCH\"]"), "--allowed-methods has 'FETCH'; it must be \"*\" or among"
        + " [DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT]");
    refusals.put(List.of("--allowed-origins", "[\"http://a.b:99999\"]"), "--allowed-origins has 'http://a.b:99999'; a port is"
        + " from 1 to 65535");
    refusals.put(List.of("--allowed-origins", "[\"http://*.example.com\"]"), "--allowed-origins has 'http://*.example.com'; a"
        + " wildcard matches no origin here (a browser sends one exact origin): list each origin, or give \"*\" for all");
    String header = "; a header name is \"*\" or letters, digits and !#$%&'*+-.^_`|~ without spaces (RFC 9110 token), e.g."
        + " \"Authorization\"";
    refusals.put(List.of("--allowed-headers", "[\"bad header\"]"), "--allowed-headers has 'bad header'" + header);
    refusals.put(List.of("--allowed-headers", "[\"\"]"), "--allowed-headers has ''" + header);
    refusals.put(List.of("--roles", "small", "--allow-credentials"), "--allow-credentials: only a node with the orchestrator"
        + " role serves HTTP; leave it out on worker nodes, or add orchestrator to --roles");
    refusals.forEach((args, message) -> {
      String[] all = new String[args.size() + 1];
      all[0] = "serve";
      for (int i = 0; i < args.size(); i++) all[i + 1] = args.get(i);
      Result r = CommandLineMistakesTest.run(all);
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      assertEquals("tandem serve: " + message, r.err(), String.join(" ", args));
    });
  }
}
