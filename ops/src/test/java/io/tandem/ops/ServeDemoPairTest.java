package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.demo.DemoModels;
import io.tandem.orchestrator.http.HttpSettings.DemoPair;
import io.tandem.protocol.Role;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What {@code serve} tells the playground of its models (tester54a: its demo-task hint showed beside
 * a checkpoint of one's own): the demo pair when both roles here are the demo models, not when any
 * model here is another, unknown when a role runs elsewhere.
 */
class ServeDemoPairTest {

  private static Config models(String small, String large) {
    return ConfigFactory.parseMap(Map.of("tandem.small.model", small, "tandem.large.model", large));
  }

  @Test
  void theDemoModelsInBothRolesAreTheDemoPair() {
    String small = DemoModels.dir().resolve("small").toString();
    String large = DemoModels.dir().resolve("large").toString();
    assertEquals(DemoPair.SERVED, ServeCommand.demoPair(models(small, large), List.of(Role.small, Role.large)));
    assertEquals(DemoPair.UNKNOWN, ServeCommand.demoPair(models(small, large), List.of(Role.small)), "the large one runs elsewhere");
    assertEquals(DemoPair.UNKNOWN, ServeCommand.demoPair(models("", ""), List.of()), "an orchestrator alone");
  }

  @Test
  void anyOtherModelHereIsNotTheDemoPair() {
    String small = DemoModels.dir().resolve("small").toString();
    assertEquals(DemoPair.NOT_SERVED, ServeCommand.demoPair(models(small, "scripted:large.json"), List.of(Role.small, Role.large)));
    // The demo's small folder given as the large model is not the demo pair's large model.
    assertEquals(DemoPair.NOT_SERVED, ServeCommand.demoPair(models(small, small), List.of(Role.small, Role.large)));
    // A role served by engines alone has no model named.
    assertEquals(DemoPair.NOT_SERVED, ServeCommand.demoPair(models(small, ""), List.of(Role.small, Role.large)));
  }
}
