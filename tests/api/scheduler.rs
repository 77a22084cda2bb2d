//! Scheduler behaviour through the API with the loop running in-process (issue 3).
