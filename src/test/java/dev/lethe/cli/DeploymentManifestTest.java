package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The deployment files agree with each other and with what the kubelet and Triton accept (no
 * cluster here, so the invariants are checked on the text): one image name and tag everywhere,
 * one writer (a StatefulSet with one replica), a securityContext per container (non-root,
 * read-only root file system and no capabilities for Lethe; no user forced on Triton, whose image
 * runs as root, and so no pod-level runAsNonRoot), writable volumes for what Lethe writes, and
 * no deprecated Triton flag.
 */
class DeploymentManifestTest {
  private static final Path MANIFEST = Path.of("client-examples/kubernetes/lethe-sidecar.yaml");

  /** The text of one container's block (from its "- name:" to the next container or volumes). */
  private static String container(String manifest, String name) {
    int start = manifest.indexOf("        - name: " + name + "\n");
    assertTrue(start >= 0, "no container " + name);
    Matcher next = Pattern.compile("\\n        - name: |\\n      volumes:").matcher(manifest);
    assertTrue(next.find(start + 1));
    return manifest.substring(start, next.start());
  }

  @Test
  void theImageNameIsTheSameEverywhere() throws Exception {
    String manifest = Files.readString(MANIFEST);
    String readme = Files.readString(Path.of("README.md"));
    String dockerfile = Files.readString(Path.of("Dockerfile"));
    assertTrue(manifest.contains("image: lethe:0.1.0"), "manifest image");
    assertTrue(readme.contains("docker build -t lethe:0.1.0 ."), "README build tag");
    assertFalse(Pattern.compile("docker build -t lethe \\.|LETHE_INSECURE=true lethe\\n|tls.key lethe\\n")
        .matcher(readme).find(), "README uses the image without its tag");
    assertTrue(dockerfile.contains("org.opencontainers.image.version=\"0.1.0\""));
    assertTrue(dockerfile.contains("USER 10001:10001"));
  }

  @Test
  void oneWriterPerStore() throws Exception {
    String manifest = Files.readString(MANIFEST);
    assertTrue(manifest.contains("kind: StatefulSet"));
    assertFalse(manifest.contains("kind: Deployment"));
    Matcher replicas = Pattern.compile("replicas: (\\d+)").matcher(manifest);
    assertTrue(replicas.find());
    assertEquals("1", replicas.group(1));
    assertFalse(replicas.find(), "one replicas field");
    assertTrue(manifest.contains("volumeClaimTemplates:")
        && manifest.contains("accessModes: [\"ReadWriteOnce\"]"));
  }

  @Test
  void eachContainerHasItsOwnSecurityContext() throws Exception {
    String manifest = Files.readString(MANIFEST);
    String pod = manifest.substring(manifest.indexOf("  template:"), manifest.indexOf("      containers:"));
    assertFalse(pod.contains("runAsNonRoot"), "a pod-level runAsNonRoot refuses Triton's root image");
    String lethe = container(manifest, "lethe");
    for (String setting : new String[] {"runAsNonRoot: true", "runAsUser: 10001",
        "allowPrivilegeEscalation: false", "readOnlyRootFilesystem: true",
        "capabilities: {drop: [\"ALL\"]}"}) {
      assertTrue(lethe.contains(setting), "lethe container lacks " + setting);
    }
    for (String mount : new String[] {"mountPath: /var/lib/lethe}", "mountPath: /models}",
        "mountPath: /tmp}"}) {
      assertTrue(lethe.contains(mount), "lethe container lacks the writable volume " + mount);
    }
    String triton = container(manifest, "model-server");
    assertTrue(triton.contains("allowPrivilegeEscalation: false"));
    assertFalse(triton.contains("runAsNonRoot") || triton.contains("runAsUser"), triton);
    assertFalse(triton.contains("- --strict-model-config"), "deprecated Triton flag");
    assertTrue(triton.contains("--model-control-mode=poll"));
  }
}
