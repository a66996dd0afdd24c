//! The loadgen Job made from a template shaped like the load component's (fixture YAML here; the
//! manifests' own tests validate the real template against the binaries).

use super::*;

const TEMPLATE: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: loadgen
  labels: {app.kubernetes.io/name: loadgen, app.kubernetes.io/part-of: mop}
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: loadgen
          image: mop/loadgen:lab
          command: ["/bin/loadgen"]
          args: ["run", "constant"]
          env: [{name: CATALOG_URL, value: "http://catalog.mop.svc:8081"}]
"#;

fn parse_all(yaml: &str) -> Vec<serde_json::Value> {
    super::super::objects::parse(yaml)
        .unwrap()
        .into_iter()
        .map(|o| o.value)
        .collect()
}

#[test]
fn a_builtin_profile_becomes_the_jobs_args_with_a_unique_name_and_no_retries() {
    let profile = Profile::BuiltIn("spike".into());
    let name = job_name(&profile, "1764581234");
    assert_eq!(name, "loadgen-spike-1764581234");
    let args = ["--duration".to_owned(), "60s".to_owned()];
    let docs = parse_all(&objects(TEMPLATE, &name, &profile, &args).unwrap());
    assert_eq!(docs.len(), 1);
    let job = &docs[0];
    assert_eq!(job["metadata"]["name"], "loadgen-spike-1764581234");
    assert_eq!(job["metadata"]["namespace"], "mop");
    assert_eq!(
        job["metadata"]["labels"]["app.kubernetes.io/name"],
        "loadgen"
    );
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let got: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got, ["run", "spike", "--duration", "60s"]);
    assert_eq!(
        c["command"][0], "/bin/loadgen",
        "the template's command stays"
    );
    assert_eq!(c["env"][0]["name"], "CATALOG_URL");
}

#[test]
fn a_scenario_file_travels_in_a_configmap_mounted_read_only() {
    let dir = std::env::temp_dir().join(format!("mop-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("My Scenario.yaml");
    std::fs::write(&file, "phases: []\n").unwrap();
    let profile = Profile::from_arg(file.to_str().unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let name = job_name(&profile, "7");
    assert_eq!(name, "loadgen-my-scenario-7");
    let docs = parse_all(&objects(TEMPLATE, &name, &profile, &[]).unwrap());
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"], "ConfigMap");
    assert_eq!(docs[0]["metadata"]["name"], name.as_str());
    assert_eq!(docs[0]["data"]["My-Scenario.yaml"], "phases: []\n");
    let pod = &docs[1]["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][0]["configMap"]["name"], name.as_str());
    let c = &pod["containers"][0];
    assert_eq!(c["volumeMounts"][0]["mountPath"], SCENARIO_DIR);
    assert_eq!(c["volumeMounts"][0]["readOnly"], true);
    assert_eq!(
        c["args"][1],
        format!("{SCENARIO_DIR}/My-Scenario.yaml").as_str()
    );
}

#[test]
fn job_names_are_dns_labels_of_at_most_63_characters() {
    let long = Profile::BuiltIn("x".repeat(100));
    let name = job_name(&long, "1764581234");
    assert!(
        name.len() <= 63 && name.ends_with("-1764581234") && name.starts_with("loadgen-x"),
        "{name}"
    );
    assert!(Profile::from_arg("ramp").unwrap() == Profile::BuiltIn("ramp".into()));
}

#[test]
fn a_template_that_is_not_a_loadgen_job_is_refused() {
    let err = objects(
        "kind: CronJob\nmetadata: {name: x}\nspec: {}\n",
        "n",
        &Profile::BuiltIn("spike".into()),
        &[],
    );
    assert!(err.unwrap_err().to_string().contains("not a Job"));
    let no_container = TEMPLATE.replace(
        "name: loadgen\n          image",
        "name: other\n          image",
    );
    let err = objects(&no_container, "n", &Profile::BuiltIn("spike".into()), &[]).unwrap_err();
    assert!(
        err.to_string().contains("no container named loadgen"),
        "{err}"
    );
}

#[test]
fn the_pod_state_says_pending_running_or_the_exit_code() {
    let state = |v: serde_json::Value| pod_state(&v);
    assert_eq!(
        state(serde_json::json!({"items": []})),
        PodState::Pending("no pod yet".into())
    );
    assert_eq!(
        state(
            serde_json::json!({"items": [{"status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}}]})
        ),
        PodState::Pending("ContainerCreating".into())
    );
    assert_eq!(
        state(
            serde_json::json!({"items": [{"status": {"containerStatuses": [{"state": {"running": {"startedAt": "x"}}}]}}]})
        ),
        PodState::Running
    );
    assert_eq!(
        state(
            serde_json::json!({"items": [{"status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 2}}}]}}]})
        ),
        PodState::Exited(2)
    );
}

#[test]
fn image_and_config_errors_are_stuck_creating_is_not() {
    assert!(
        is_stuck("ErrImageNeverPull")
            && is_stuck("ImagePullBackOff")
            && is_stuck("CreateContainerConfigError")
    );
    assert!(!is_stuck("ContainerCreating") && !is_stuck("no pod yet") && !is_stuck("Pending"));
}
