package aws

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"time"
)

// apiError is an error response as AWS sends it: an HTTP status, a code that
// the SDK maps to a modeled error type (or smithy.GenericAPIError) and a
// message.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// validation is the catch-all client error of the Query services.
func validation(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "ValidationError", format, args...)
}

// isoTime is the timestamp format of both Query protocols.
const isoTime = "2006-01-02T15:04:05.000Z"

func isoTS(t time.Time) string { return t.UTC().Format(isoTime) }

// responseMetadata closes every AWS Query response.
type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// ec2Base is embedded in every EC2 response body: EC2 puts the request ID
// directly under the root element instead of in ResponseMetadata.
type ec2Base struct {
	RequestID string `xml:"requestId"`
}

func (b *ec2Base) setRequestID(id string) { b.RequestID = id }

func writeResult(w http.ResponseWriter, svc *service, action, requestID string, body any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	root := xml.StartElement{Name: xml.Name{Space: svc.xmlns, Local: action + "Response"}}
	var err error
	if svc.ec2 {
		// EC2 Query: the output members sit directly under the root.
		if b, ok := body.(interface{ setRequestID(string) }); ok {
			b.setRequestID(requestID)
		}
		err = enc.EncodeElement(body, root)
	} else {
		// AWS Query: <XResponse><XResult>members</XResult><ResponseMetadata/>.
		// The Result element is always present, even for operations without
		// output members, because the SDK looks for it whenever the operation
		// has an output shape.
		if body == nil {
			body = struct{}{}
		}
		err = firstErr(
			enc.EncodeToken(root),
			enc.EncodeElement(body, xml.StartElement{Name: xml.Name{Local: action + "Result"}}),
			enc.EncodeElement(responseMetadata{RequestID: requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}),
			enc.EncodeToken(root.End()),
		)
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		// Only a bug in the sim's response types gets here.
		writeError(w, svc, requestID, errf(http.StatusInternalServerError, "InternalFailure", "simulator failed to encode the response: %v", err))
		return
	}
	writeXML(w, http.StatusOK, requestID, buf.Bytes())
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

type queryErrorResponse struct {
	XMLName   xml.Name        // set per response, to carry the service namespace
	Error     queryErrorEntry `xml:"Error"`
	RequestID string          `xml:"RequestId"`
}

type queryErrorEntry struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type ec2ErrorResponse struct {
	XMLName   xml.Name      `xml:"Response"`
	Errors    []ec2ErrorXML `xml:"Errors>Error"`
	RequestID string        `xml:"RequestID"`
}

type ec2ErrorXML struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// writeError writes err in the error format of svc (AWS Query when svc is nil,
// which happens before the service is known). Errors that are not *apiError are
// sim bugs and become 500s.
func writeError(w http.ResponseWriter, svc *service, requestID string, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = errf(http.StatusInternalServerError, "InternalFailure", "%v", err)
	}
	var v any
	if svc != nil && svc.ec2 {
		v = ec2ErrorResponse{Errors: []ec2ErrorXML{{Code: ae.code, Message: ae.message}}, RequestID: requestID}
	} else {
		typ := "Sender"
		if ae.status >= 500 {
			typ = "Receiver"
		}
		resp := queryErrorResponse{
			XMLName:   xml.Name{Local: "ErrorResponse"},
			Error:     queryErrorEntry{Type: typ, Code: ae.code, Message: ae.message},
			RequestID: requestID,
		}
		if svc != nil {
			resp.XMLName.Space = svc.xmlns
		}
		v = resp
	}
	b, merr := xml.Marshal(v)
	if merr != nil {
		http.Error(w, "simulator failed to encode an error", http.StatusInternalServerError)
		return
	}
	writeXML(w, ae.status, requestID, append([]byte(xml.Header), b...))
}

func writeXML(w http.ResponseWriter, status int, requestID string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
