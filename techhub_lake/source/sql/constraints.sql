-- Foreign keys and indexes, added after the bulk load (as fast as loading with them, and each
-- constraint is validated against the generated rows). The ON DELETE actions stand in for
-- Django's CASCADE / SET_NULL: SET NULL rewrites child rows without touching their updated_at,
-- which is exactly the kind of change an incremental load cannot see.

CREATE UNIQUE INDEX account_company_tin_uniq ON account_company (tin) WHERE tin IS NOT NULL;

ALTER TABLE account_user ADD CONSTRAINT account_user_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX account_user_company_id_idx ON account_user (company_id);
CREATE UNIQUE INDEX account_user_email_uniq ON account_user (email) WHERE email IS NOT NULL;

ALTER TABLE account_usercompany ADD CONSTRAINT account_usercompany_user_id_fk
    FOREIGN KEY (user_id) REFERENCES account_user (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE account_usercompany ADD CONSTRAINT account_usercompany_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX account_usercompany_user_id_idx ON account_usercompany (user_id);
CREATE INDEX account_usercompany_company_id_idx ON account_usercompany (company_id);

ALTER TABLE account_activation ADD CONSTRAINT account_activation_user_id_fk
    FOREIGN KEY (user_id) REFERENCES account_user (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX account_activation_user_id_idx ON account_activation (user_id);

ALTER TABLE core_city ADD CONSTRAINT core_city_country_id_fk
    FOREIGN KEY (country_id) REFERENCES core_country (id) DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE core_event ADD CONSTRAINT core_event_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE core_event ADD CONSTRAINT core_event_organization_id_fk
    FOREIGN KEY (organization_id) REFERENCES core_organization (code) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE core_event ADD CONSTRAINT core_event_category_id_fk
    FOREIGN KEY (category_id) REFERENCES core_category (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE core_event ADD CONSTRAINT core_event_city_id_fk
    FOREIGN KEY (city_id) REFERENCES core_city (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX core_event_company_id_idx ON core_event (company_id);

ALTER TABLE core_eventparticipant ADD CONSTRAINT core_eventparticipant_event_id_fk
    FOREIGN KEY (event_id) REFERENCES core_event (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE core_eventparticipant ADD CONSTRAINT core_eventparticipant_author_id_fk
    FOREIGN KEY (author_id) REFERENCES account_user (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX core_eventparticipant_event_id_idx ON core_eventparticipant (event_id);
CREATE INDEX core_eventparticipant_author_id_idx ON core_eventparticipant (author_id);

ALTER TABLE core_vacancy ADD CONSTRAINT core_vacancy_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE core_vacancy ADD CONSTRAINT core_vacancy_city_id_fk
    FOREIGN KEY (city_id) REFERENCES core_city (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX core_vacancy_company_id_idx ON core_vacancy (company_id);

ALTER TABLE core_vacancycandidate ADD CONSTRAINT core_vacancycandidate_vacancy_id_fk
    FOREIGN KEY (vacancy_id) REFERENCES core_vacancy (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE core_vacancycandidate ADD CONSTRAINT core_vacancycandidate_user_id_fk
    FOREIGN KEY (user_id) REFERENCES account_user (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX core_vacancycandidate_vacancy_id_idx ON core_vacancycandidate (vacancy_id);
CREATE INDEX core_vacancycandidate_user_id_idx ON core_vacancycandidate (user_id);

ALTER TABLE core_blog ADD CONSTRAINT core_blog_author_id_fk
    FOREIGN KEY (author_id) REFERENCES account_user (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE core_blog ADD CONSTRAINT core_blog_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX core_blog_author_id_idx ON core_blog (author_id);
CREATE INDEX core_blog_company_id_idx ON core_blog (company_id);

ALTER TABLE core_techtask ADD CONSTRAINT core_techtask_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX core_techtask_company_id_idx ON core_techtask (company_id);

ALTER TABLE core_comment ADD CONSTRAINT core_comment_author_id_fk
    FOREIGN KEY (author_id) REFERENCES account_user (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX core_comment_author_id_idx ON core_comment (author_id);

CREATE INDEX core_actionlog_user_id_idx ON core_actionlog (user_id);

ALTER TABLE service_servicerequest ADD CONSTRAINT service_servicerequest_service_id_fk
    FOREIGN KEY (service_id) REFERENCES service_service (code) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE service_servicerequest ADD CONSTRAINT service_servicerequest_author_id_fk
    FOREIGN KEY (author_id) REFERENCES account_user (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE service_servicerequest ADD CONSTRAINT service_servicerequest_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX service_servicerequest_service_id_idx ON service_servicerequest (service_id);
CREATE INDEX service_servicerequest_author_id_idx ON service_servicerequest (author_id);
CREATE INDEX service_servicerequest_company_id_idx ON service_servicerequest (company_id);

ALTER TABLE service_servicerequestlog ADD CONSTRAINT service_servicerequestlog_request_id_fk
    FOREIGN KEY (request_id) REFERENCES service_servicerequest (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX service_servicerequestlog_request_id_idx ON service_servicerequestlog (request_id);

CREATE UNIQUE INDEX service_hubform_code_uniq ON service_hubform (code);

ALTER TABLE service_hubformdata ADD CONSTRAINT service_hubformdata_form_id_fk
    FOREIGN KEY (form_id) REFERENCES service_hubform (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE service_hubformdata ADD CONSTRAINT service_hubformdata_author_id_fk
    FOREIGN KEY (author_id) REFERENCES account_user (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX service_hubformdata_form_id_idx ON service_hubformdata (form_id);
CREATE INDEX service_hubformdata_author_id_idx ON service_hubformdata (author_id);

ALTER TABLE service_report ADD CONSTRAINT service_report_company_id_fk
    FOREIGN KEY (company_id) REFERENCES account_company (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE service_report ADD CONSTRAINT service_report_request_id_fk
    FOREIGN KEY (request_id) REFERENCES service_servicerequest (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX service_report_company_id_idx ON service_report (company_id);
CREATE INDEX service_report_request_id_idx ON service_report (request_id);

ALTER TABLE booking_booking ADD CONSTRAINT booking_booking_room_id_fk
    FOREIGN KEY (room_id) REFERENCES booking_room (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE booking_booking ADD CONSTRAINT booking_booking_author_id_fk
    FOREIGN KEY (author_id) REFERENCES account_user (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX booking_booking_room_id_idx ON booking_booking (room_id);
CREATE INDEX booking_booking_author_id_idx ON booking_booking (author_id);

ALTER TABLE booking_bookingstatus ADD CONSTRAINT booking_bookingstatus_booking_id_fk
    FOREIGN KEY (booking_id) REFERENCES booking_booking (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX booking_bookingstatus_booking_id_idx ON booking_bookingstatus (booking_id);

ALTER TABLE techorda_course ADD CONSTRAINT techorda_course_school_id_fk
    FOREIGN KEY (school_id) REFERENCES techorda_school (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE techorda_flow ADD CONSTRAINT techorda_flow_course_id_fk
    FOREIGN KEY (course_id) REFERENCES techorda_course (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE silk_response ADD CONSTRAINT silk_response_request_id_fk
    FOREIGN KEY (request_id) REFERENCES silk_request (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
