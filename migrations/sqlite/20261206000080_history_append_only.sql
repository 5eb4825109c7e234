-- PostgreSQL only (role privileges); kept here so both backends share one migration history.
SELECT 1;
