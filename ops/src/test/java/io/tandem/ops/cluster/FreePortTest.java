package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Ports for nodes in other processes come from below the kernel's ephemeral range, where no
 * outgoing connection can take one before its node binds it (LocalClusterScriptIT failed so once:
 * the second orchestrator's HTTP port was in use by the time it started).
 */
class FreePortTest {
  @Test
  void aFreePortForAnotherProcessLiesBelowTheEphemeralRange() throws Exception {
    Path range = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
    Assumptions.assumeTrue(Files.isReadable(range), "Linux's ephemeral port range");
    int low = Integer.parseInt(Files.readAllLines(range).get(0).trim().split("\\s+")[0]);
    Assumptions.assumeTrue(low > 20_000, "room below the range");
    for (int i = 0; i < 20; i++) {
      int port = LoopbackCluster.freePort();
      assertTrue(port >= 20_000 && port < low, port + " is not below " + low);
    }
  }
}
